/**
 * Reads `nft -n -j list table inet <name>` (numeric JSON) into the state the planner compares:
 * set elements as intervals, verdict maps as interface → chain, chains by the content hash their
 * rules carry in comments. Anything it cannot read marks the object for rewriting.
 */
import { parseIpAddress } from '../net/ip-address.js';
import type { ChainState, RulesetState } from './nft-plan.js';
import {
  elementKey,
  type NftElement,
  type NftFieldType,
  type NftSet,
  type NftVerdictMap,
} from './nft-ruleset.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function addressValue(text: unknown): bigint | undefined {
  return typeof text === 'string' ? parseIpAddress(text)?.value : undefined;
}

type Field = NftElement[number];

function readRange(range: unknown[], type: NftFieldType | undefined): Field | undefined {
  const [lo, hi] = range.map((end) => readField(end, type));
  return lo?.kind === 'interval' && hi?.kind === 'interval'
    ? { kind: 'interval', lo: lo.lo, hi: hi.hi }
    : undefined;
}

function readPrefix(prefix: Json, type: NftFieldType | undefined): Field | undefined {
  const network = addressValue(prefix.addr);
  if (network === undefined || typeof prefix.len !== 'number') return undefined;
  const bits = type === 'ipv6_addr' ? 128 : 32;
  return { kind: 'interval', lo: network, hi: network + (1n << BigInt(bits - prefix.len)) - 1n };
}

/** One field of a set element: a number, a name, a range, or an address prefix. */
function readField(value: unknown, type: NftFieldType | undefined): Field | undefined {
  if (type === 'ifname') return typeof value === 'string' ? { kind: 'name', value } : undefined;
  if (typeof value === 'number') return { kind: 'interval', lo: BigInt(value), hi: BigInt(value) };
  if (typeof value === 'string') {
    const address = addressValue(value);
    return address === undefined ? undefined : { kind: 'interval', lo: address, hi: address };
  }
  if (!isObject(value)) return undefined;
  if (Array.isArray(value.range)) return readRange(value.range as unknown[], type);
  if (isObject(value.prefix)) return readPrefix(value.prefix, type);
  return undefined;
}

function readElement(raw: unknown, types: readonly NftFieldType[]): NftElement | undefined {
  const value = isObject(raw) && 'elem' in raw && isObject(raw.elem) ? raw.elem.val : raw;
  const parts =
    isObject(value) && Array.isArray(value.concat) ? (value.concat as unknown[]) : [value];
  const fields = parts.map((part, index) => readField(part, types[index]));
  return fields.every((field): field is Field => field !== undefined) ? fields : undefined;
}

function readSet(set: Json): NftSet | undefined {
  const name = set.name;
  const types = (Array.isArray(set.type) ? set.type : [set.type]) as NftFieldType[];
  if (typeof name !== 'string') return undefined;
  const elements = new Map<string, NftElement>();
  for (const raw of Array.isArray(set.elem) ? (set.elem as unknown[]) : []) {
    const element = readElement(raw, types);
    // An element it cannot read makes the set unreadable: it will be recreated.
    if (!element) return { name, type: [], interval: false, elements: new Map() };
    elements.set(elementKey(element), element);
  }
  const flags = Array.isArray(set.flags) ? (set.flags as unknown[]) : [];
  return { name, type: types, interval: flags.includes('interval'), elements };
}

function readMap(map: Json): NftVerdictMap | undefined {
  if (typeof map.name !== 'string') return undefined;
  const elements = new Map<string, string>();
  for (const raw of Array.isArray(map.elem) ? (map.elem as unknown[]) : []) {
    if (!Array.isArray(raw)) continue;
    const [key, value] = raw as [unknown, unknown];
    const verdict = isObject(value) ? (value.goto ?? value.jump) : undefined;
    const target = isObject(verdict)
      ? verdict.target
      : typeof value === 'number'
        ? String(value)
        : undefined;
    const name = typeof key === 'number' ? String(key) : key;
    if (typeof name === 'string' && typeof target === 'string') elements.set(name, target);
  }
  return { name: map.name, elements };
}

class ListingReader {
  found = false;
  readonly sets = new Map<string, NftSet>();
  readonly maps = new Map<string, NftVerdictMap>();
  readonly chains = new Map<string, ChainState>();
  readonly ruleHashes = new Map<string, Set<string>>();
  readonly counters = new Set<string>();

  constructor(private readonly table: string) {}

  read(kind: string, body: Json): void {
    if (kind === 'table') {
      this.found ||= body.name === this.table && body.family === 'inet';
    } else if (kind === 'rule') {
      this.readRule(body);
    } else if (
      body.table === this.table &&
      body.family === 'inet' &&
      typeof body.name === 'string'
    ) {
      this.readObject(kind, body.name, body);
    }
  }

  readObject(kind: string, name: string, body: Json): void {
    if (kind === 'set') {
      const set = readSet(body);
      if (set) this.sets.set(name, set);
    } else if (kind === 'map') {
      const map = readMap(body);
      if (map) this.maps.set(name, map);
    } else if (kind === 'chain') {
      const policy = body.policy === 'accept' ? 'accept' : 'drop';
      const base = body.hook
        ? { base: { hook: 'forward', priority: 'filter', policy } as const }
        : {};
      this.chains.set(name, { name, ...base, state: 'empty' });
    } else if (kind === 'counter') {
      this.counters.add(name);
    }
  }

  readRule(body: Json): void {
    if (body.table !== this.table || typeof body.chain !== 'string') return;
    const hashes = this.ruleHashes.get(body.chain) ?? new Set<string>();
    hashes.add(
      typeof body.comment === 'string' && body.comment.startsWith('h:')
        ? body.comment.slice(2)
        : 'unknown',
    );
    this.ruleHashes.set(body.chain, hashes);
  }

  state(): RulesetState | undefined {
    if (!this.found) return undefined;
    for (const [name, hashes] of this.ruleHashes) {
      const chain = this.chains.get(name);
      const [only] = hashes;
      if (chain)
        this.chains.set(name, { ...chain, state: hashes.size === 1 && only ? only : 'unknown' });
    }
    return {
      table: this.table,
      sets: this.sets,
      maps: this.maps,
      chains: this.chains,
      counters: this.counters,
    };
  }
}

/** Parses a numeric JSON listing of one table; `undefined` when the table is absent. */
export function readRulesetListing(listing: unknown, table: string): RulesetState | undefined {
  const items =
    isObject(listing) && Array.isArray(listing.nftables) ? (listing.nftables as unknown[]) : [];
  const reader = new ListingReader(table);
  for (const item of items) {
    if (!isObject(item)) continue;
    const [kind, body] = Object.entries(item)[0] ?? [];
    if (kind && isObject(body)) reader.read(kind, body);
  }
  return reader.state();
}
