/**
 * The nftables objects sgpods owns in one VPC router, as data: sets (interval concatenations of
 * numeric fields, or exact tuples with interface names), verdict maps, chains and counters.
 * Compilation produces one; reading the kernel's JSON produces another; the planner diffs them.
 */
import { contentHash } from '../hash.js';
import type { Box } from './boxes.js';

/** nft data types used by sgpods sets. Numeric types carry intervals; `ifname` carries strings. */
export type NftFieldType =
  | 'inet_proto'
  | 'inet_service'
  | 'ipv4_addr'
  | 'ipv6_addr'
  | 'icmp_type'
  | 'icmp_code'
  | 'icmpv6_type'
  | 'icmpv6_code'
  | 'ifname'
  | 'mark';

/** A set element: intervals for numeric fields, a name for `ifname` fields, in field order. */
export type NftElement = readonly (
  | { readonly kind: 'interval'; readonly lo: bigint; readonly hi: bigint }
  | { readonly kind: 'name'; readonly value: string }
)[];

export interface NftSet {
  readonly name: string;
  readonly type: readonly NftFieldType[];
  readonly interval: boolean;
  /** Elements by canonical key (`elementKey`). */
  readonly elements: ReadonlyMap<string, NftElement>;
  /** Filled by the packet path (with a counter per element); never planned element by element. */
  readonly dynamic?: boolean;
}

/**
 * A map keyed by interface name: `verdict` maps dispatch (`goto <chain>`), `mark` maps hand a
 * number to `meta mark set ... map`.
 */
export interface NftVerdictMap {
  readonly name: string;
  /** Key type: interface names (default) or marks. */
  readonly key?: 'ifname' | 'mark';
  /** `verdict`: `goto <chain>` (default); `jump`: `jump <chain>`; `mark`: a number. */
  readonly value?: 'verdict' | 'jump' | 'mark';
  /** Key → target chain (verdict, jump) or number (mark). */
  readonly elements: ReadonlyMap<string, string>;
}

export interface NftBaseChain {
  readonly hook: 'forward';
  readonly priority: 'filter';
  readonly policy: 'drop' | 'accept';
}

export interface NftChain {
  readonly name: string;
  readonly base?: NftBaseChain;
  /** Rule bodies in order, without comments (the planner adds the content hash). */
  readonly rules: readonly string[];
}

export interface NftRuleset {
  readonly table: string;
  readonly sets: ReadonlyMap<string, NftSet>;
  readonly maps: ReadonlyMap<string, NftVerdictMap>;
  readonly chains: ReadonlyMap<string, NftChain>;
  readonly counters: ReadonlySet<string>;
}

export function elementKey(element: NftElement): string {
  return element
    .map((field) => (field.kind === 'name' ? `"${field.value}"` : `${field.lo}-${field.hi}`))
    .join(' . ');
}

export function boxElement(box: Box): NftElement {
  return box.map((field) => ({ kind: 'interval', lo: field.lo, hi: field.hi }));
}

export function chainHash(chain: NftChain): string {
  return contentHash(chain.rules.join('\n'));
}
