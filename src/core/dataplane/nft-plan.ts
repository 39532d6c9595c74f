/**
 * Plans the one nft transaction that turns what the kernel holds into what is desired: only
 * changed set elements, changed chains (flush + refill), changed map entries; new objects first,
 * removed ones last (after nothing refers to them). The same planner serves incremental updates
 * (from the last applied state) and resync after a restart (from the kernel's own listing).
 *
 * Each rule carries its chain's content hash as a comment, so a chain read back from the kernel
 * is known to be current without parsing its rules.
 */
import { formatAddress, type IpFamily } from '../net/ip-address.js';
import {
  chainHash,
  type NftBaseChain,
  type NftChain,
  type NftElement,
  type NftFieldType,
  type NftRuleset,
  type NftSet,
  type NftVerdictMap,
} from './nft-ruleset.js';

/** A chain as far as planning needs it: name, base hook, and a state that changes with content. */
export interface ChainState {
  readonly name: string;
  readonly base?: NftBaseChain;
  /** `empty`, a content hash, or `unknown` (rules not written by sgpods). */
  readonly state: string;
}

export interface RulesetState {
  readonly table: string;
  readonly sets: ReadonlyMap<string, NftSet>;
  readonly maps: ReadonlyMap<string, NftVerdictMap>;
  readonly chains: ReadonlyMap<string, ChainState>;
  readonly counters: ReadonlySet<string>;
}

export function chainStateOf(chain: NftChain): string {
  return chain.rules.length === 0 ? 'empty' : chainHash(chain);
}

export function stateOfRuleset(ruleset: NftRuleset): RulesetState {
  const chains = new Map<string, ChainState>();
  for (const chain of ruleset.chains.values()) {
    chains.set(chain.name, {
      name: chain.name,
      ...(chain.base ? { base: chain.base } : {}),
      state: chainStateOf(chain),
    });
  }
  return {
    table: ruleset.table,
    sets: ruleset.sets,
    maps: ruleset.maps,
    chains,
    counters: ruleset.counters,
  };
}

const addressFamily: Partial<Record<NftFieldType, IpFamily>> = { ipv4_addr: 4, ipv6_addr: 6 };

function renderAddressInterval(family: IpFamily, lo: bigint, hi: bigint): string {
  const bits = family === 4 ? 32 : 128;
  const size = hi - lo + 1n;
  const isPowerOfTwo = size > 0n && (size & (size - 1n)) === 0n;
  if (isPowerOfTwo && lo % size === 0n) {
    const prefixLength = bits - (size.toString(2).length - 1);
    return prefixLength === bits
      ? formatAddress(family, lo)
      : `${formatAddress(family, lo)}/${prefixLength}`;
  }
  return `${formatAddress(family, lo)}-${formatAddress(family, hi)}`;
}

/**
 * Renders a set element. In interval sets a point in the last field is written as a range
 * (`80-80`): nft 1.0.6 cannot delete an all-point element of an interval concatenation otherwise.
 */
export function renderElement(set: Pick<NftSet, 'type' | 'interval'>, element: NftElement): string {
  const last = element.length - 1;
  return element
    .map((field, index) => {
      if (field.kind === 'name') return JSON.stringify(field.value);
      const family = addressFamily[set.type[index] ?? 'inet_proto'];
      const asRange = set.interval && index === last && field.lo === field.hi;
      if (family) {
        return asRange
          ? `${formatAddress(family, field.lo)}-${formatAddress(family, field.hi)}`
          : renderAddressInterval(family, field.lo, field.hi);
      }
      return field.lo === field.hi && !asRange ? `${field.lo}` : `${field.lo}-${field.hi}`;
    })
    .join(' . ');
}

function setDeclaration(set: NftSet): string {
  if (set.dynamic) return `{ type ${set.type.join(' . ')}; flags dynamic; counter; }`;
  const flags = set.interval ? ' flags interval;' : '';
  return `{ type ${set.type.join(' . ')};${flags} }`;
}

function baseDeclaration(base: NftBaseChain): string {
  return `{ type filter hook ${base.hook} priority ${base.priority}; policy ${base.policy}; }`;
}

/** Chunks element lists so one command line stays reasonable. */
function elementCommands(
  verb: 'add' | 'delete',
  table: string,
  set: NftSet,
  elements: readonly NftElement[],
): string[] {
  const lines: string[] = [];
  for (let i = 0; i < elements.length; i += 500) {
    const chunk = elements.slice(i, i + 500).map((element) => renderElement(set, element));
    lines.push(`${verb} element inet ${table} ${set.name} { ${chunk.join(', ')} }`);
  }
  return lines;
}

export function renderMapKey(map: Pick<NftVerdictMap, 'key'>, key: string): string {
  return map.key === 'mark' ? key : JSON.stringify(key);
}

export function renderMapEntry(
  map: Pick<NftVerdictMap, 'key' | 'value'>,
  key: string,
  value: string,
): string {
  const target =
    map.value === 'mark' ? value : `${map.value === 'jump' ? 'jump' : 'goto'} ${value}`;
  return `${renderMapKey(map, key)} : ${target}`;
}

export function mapDeclaration(map: Pick<NftVerdictMap, 'key' | 'value'>): string {
  return `{ type ${map.key ?? 'ifname'} : ${map.value === 'mark' ? 'mark' : 'verdict'}; }`;
}

function mapEntries(map: NftVerdictMap, entries: readonly [string, string][]): string {
  return entries.map(([key, value]) => renderMapEntry(map, key, value)).join(', ');
}

function emptyState(table: string): RulesetState {
  return {
    table,
    sets: new Map<string, NftSet>(),
    maps: new Map<string, NftVerdictMap>(),
    chains: new Map<string, ChainState>(),
    counters: new Set<string>(),
  };
}

export interface NftPlan {
  /** The nft script (one transaction with `nft -f`); empty when nothing changes. */
  readonly script: string;
  readonly changedObjects: number;
}

interface PlanParts {
  readonly create: string[];
  readonly update: string[];
  readonly rewrite: string[];
  readonly remove: string[];
}

function planSets(table: string, have: RulesetState, desired: NftRuleset, parts: PlanParts): void {
  for (const set of desired.sets.values()) {
    const existing = have.sets.get(set.name);
    const sameShape =
      existing !== undefined &&
      existing.interval === set.interval &&
      existing.type.join() === set.type.join();
    if (existing && !sameShape) parts.remove.push(`delete set inet ${table} ${set.name}`);
    if (!existing || !sameShape) {
      parts.create.push(`add set inet ${table} ${set.name} ${setDeclaration(set)}`);
      parts.update.push(...elementCommands('add', table, set, [...set.elements.values()]));
      continue;
    }
    if (set.dynamic) continue;
    const stale = [...existing.elements]
      .filter(([key]) => !set.elements.has(key))
      .map(([, element]) => element);
    const fresh = [...set.elements]
      .filter(([key]) => !existing.elements.has(key))
      .map(([, element]) => element);
    parts.update.push(
      ...elementCommands('delete', table, set, stale),
      ...elementCommands('add', table, set, fresh),
    );
  }
}

function planMaps(table: string, have: RulesetState, desired: NftRuleset, parts: PlanParts): void {
  for (const map of desired.maps.values()) {
    const existing = have.maps.get(map.name);
    if (!existing) parts.create.push(`add map inet ${table} ${map.name} ${mapDeclaration(map)}`);
    const old = existing?.elements ?? new Map<string, string>();
    const stale = [...old.keys()].filter((key) => map.elements.get(key) !== old.get(key));
    const fresh = [...map.elements].filter(([key, target]) => old.get(key) !== target);
    if (stale.length > 0) {
      parts.update.push(
        `delete element inet ${table} ${map.name} { ${stale.map((key) => renderMapKey(map, key)).join(', ')} }`,
      );
    }
    if (fresh.length > 0)
      parts.update.push(`add element inet ${table} ${map.name} { ${mapEntries(map, fresh)} }`);
  }
}

function planChains(
  table: string,
  have: RulesetState,
  desired: NftRuleset,
  parts: PlanParts,
): void {
  for (const chain of desired.chains.values()) {
    const existing = have.chains.get(chain.name);
    if (!existing) {
      parts.create.push(
        `add chain inet ${table} ${chain.name}${chain.base ? ` ${baseDeclaration(chain.base)}` : ''}`,
      );
    }
    const state = chainStateOf(chain);
    if (existing?.state === state) continue;
    if (existing) parts.rewrite.push(`flush chain inet ${table} ${chain.name}`);
    for (const rule of chain.rules)
      parts.rewrite.push(`add rule inet ${table} ${chain.name} ${rule} comment "h:${state}"`);
  }
}

/** Removals come last, when no rule or map entry refers to them any more. */
function planRemovals(
  table: string,
  have: RulesetState,
  desired: NftRuleset,
  parts: PlanParts,
): void {
  const removedChains = [...have.chains.keys()].filter((name) => !desired.chains.has(name));
  parts.remove.unshift(...removedChains.map((name) => `flush chain inet ${table} ${name}`));
  for (const name of have.maps.keys())
    if (!desired.maps.has(name)) parts.remove.push(`delete map inet ${table} ${name}`);
  parts.remove.push(...removedChains.map((name) => `delete chain inet ${table} ${name}`));
  for (const name of have.sets.keys())
    if (!desired.sets.has(name)) parts.remove.push(`delete set inet ${table} ${name}`);
  for (const counter of have.counters) {
    if (!desired.counters.has(counter))
      parts.remove.push(`delete counter inet ${table} ${counter}`);
  }
}

/** Plans `current` → `desired`. With `current` undefined the table is created from scratch. */
export function planRuleset(current: RulesetState | undefined, desired: NftRuleset): NftPlan {
  const table = desired.table;
  const parts: PlanParts = { create: [], update: [], rewrite: [], remove: [] };
  if (!current) parts.create.push(`add table inet ${table}`);
  const have = current ?? emptyState(table);
  for (const counter of desired.counters) {
    if (!have.counters.has(counter)) parts.create.push(`add counter inet ${table} ${counter}`);
  }
  planSets(table, have, desired, parts);
  planMaps(table, have, desired, parts);
  planChains(table, have, desired, parts);
  planRemovals(table, have, desired, parts);
  const lines = [...parts.create, ...parts.update, ...parts.rewrite, ...parts.remove];
  return {
    script: lines.length === 0 ? '' : `${lines.join('\n')}\n`,
    changedObjects: lines.length,
  };
}
