/**
 * The desired ruleset of one router, kept up to date part by part. A change to a group or a
 * port recompiles that part alone and yields the nft commands for the difference, so a change
 * costs the same in a world of 5,000 ENIs as in a world of five (Felix's calc-graph idea, small).
 *
 * Indices (the `meta mark` of a group) are allocated once per group and kept for the life of the
 * model, so recompiling one part never renumbers another. A port's part also holds its addresses
 * in the rules of groups that reference its groups; when such rules change, those ports follow.
 */
import { StableIndices } from '../hash.js';
import type { SecurityGroup } from '../sg/security-group.js';
import type { PrefixList } from '../sg/world.js';
import {
  addPart,
  compileGroupPart,
  compilePortPart,
  mutableFrame,
  removePart,
  type CompileContext,
  type MutableRuleset,
  type RouterPort,
  type RulesetPart,
  type TrafficBoxes,
} from './compile-ruleset.js';
import { chainStateOf, renderElement, renderMapEntry, renderMapKey } from './nft-plan.js';
import type { NftChain, NftElement, NftRuleset } from './nft-ruleset.js';

function serialize(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? item.toString() : item,
  );
}

interface DeltaLines {
  readonly create: string[];
  readonly deleteElements: string[];
  readonly addElements: string[];
  readonly rewrite: string[];
  readonly flushRemoved: string[];
  readonly remove: string[];
}

export class IncrementalRuleset {
  readonly #table: string;
  readonly #desired: MutableRuleset;
  readonly #groups = new Map<string, { group: SecurityGroup; part?: RulesetPart }>();
  readonly #ports = new Map<string, { port: RouterPort; part?: RulesetPart }>();
  /** Parts of removed groups (`g:<id>`) and ports (`p:<name>`) whose commands are not yet written. */
  readonly #removedParts = new Map<string, RulesetPart>();
  readonly #dirtyGroups = new Set<string>();
  readonly #dirtyPorts = new Set<string>();
  readonly #groupIndices = new StableIndices();
  /** Referenced group → groups whose rules reference it. */
  readonly #referrers = new Map<string, Set<string>>();
  #prefixLists = new Map<string, PrefixList>();
  #pending: string[] = [];
  readonly #context: CompileContext;

  constructor(table: string) {
    this.#table = table;
    this.#desired = mutableFrame(table);
    this.#context = {
      prefixLists: this.#prefixLists,
      groupIndex: (groupId) => this.#groupIndices.of(groupId),
      referencing: (groupId) => this.#referencing(groupId),
    };
  }

  /** Replaces the whole group list; only groups whose object changed are recompiled. */
  setGroups(groups: readonly SecurityGroup[]): void {
    const next = new Map(groups.map((group) => [group.groupId, group]));
    for (const groupId of [...this.#groups.keys()])
      if (!next.has(groupId)) this.removeGroup(groupId);
    for (const group of groups)
      if (this.#groups.get(group.groupId)?.group !== group) this.putGroup(group);
  }

  *#referencing(groupId: string): Generator<[string, TrafficBoxes]> {
    for (const referrer of this.#referrers.get(groupId) ?? []) {
      const traffic = this.#groups.get(referrer)?.part?.references?.get(groupId);
      if (traffic) yield [referrer, traffic];
    }
  }

  /** Keeps the referrer index in step with a group's part, and marks the ports that depend on it. */
  #updateReferences(
    groupId: string,
    before: RulesetPart | undefined,
    after: RulesetPart | undefined,
  ): void {
    const old = before?.references ?? new Map<string, TrafficBoxes>();
    const next = after?.references ?? new Map<string, TrafficBoxes>();
    for (const referenced of new Set([...old.keys(), ...next.keys()])) {
      if (serialize(old.get(referenced)) !== serialize(next.get(referenced)))
        this.#markPortsOf(referenced);
      const referrers = this.#referrers.get(referenced) ?? new Set<string>();
      if (next.has(referenced)) referrers.add(groupId);
      else referrers.delete(groupId);
      this.#referrers.set(referenced, referrers);
    }
  }

  putGroup(group: SecurityGroup): void {
    const existing = this.#groups.get(group.groupId);
    // Removed and put back before the commands were written: a replacement, not a new part.
    const part = existing?.part ?? this.#takeRemoved(`g:${group.groupId}`);
    this.#groups.set(group.groupId, { group, ...(part ? { part } : {}) });
    this.#dirtyGroups.add(group.groupId);
  }

  #takeRemoved(key: string): RulesetPart | undefined {
    const part = this.#removedParts.get(key);
    this.#removedParts.delete(key);
    return part;
  }

  removeGroup(groupId: string): void {
    const existing = this.#groups.get(groupId);
    if (!existing) return;
    if (existing.part) this.#removedParts.set(`g:${groupId}`, existing.part);
    this.#updateReferences(groupId, existing.part, undefined);
    this.#groups.delete(groupId);
    this.#dirtyGroups.delete(groupId);
  }

  setPrefixLists(prefixLists: readonly PrefixList[]): void {
    this.#prefixLists.clear();
    for (const list of prefixLists) this.#prefixLists.set(list.prefixListId, list);
    for (const groupId of this.#groups.keys()) this.#dirtyGroups.add(groupId);
  }

  setPort(port: RouterPort): void {
    const existing = this.#ports.get(port.portName);
    const part = existing?.part ?? this.#takeRemoved(`p:${port.portName}`);
    this.#ports.set(port.portName, { port, ...(part ? { part } : {}) });
    this.#dirtyPorts.add(port.portName);
  }

  removePort(portName: string): void {
    const existing = this.#ports.get(portName);
    if (!existing) return;
    if (existing.part) this.#removedParts.set(`p:${portName}`, existing.part);
    this.#ports.delete(portName);
    this.#dirtyPorts.delete(portName);
  }

  #markPortsOf(groupId: string): void {
    for (const [portName, { port }] of this.#ports)
      if (port.groupIds.includes(groupId)) this.#dirtyPorts.add(portName);
  }

  /** The whole desired ruleset (pending changes compiled in, their commands kept for `takeDelta`). */
  ruleset(): NftRuleset {
    this.#compileDirty();
    return this.#desired;
  }

  /** The nft commands for every change since the last call, assuming the kernel held the rest. */
  takeDelta(): string {
    this.#compileDirty();
    const script = this.#pending.join('');
    this.#pending = [];
    return script;
  }

  /** Forgets pending commands (after a full plan against the kernel covered them). */
  discardDelta(): void {
    this.#compileDirty();
    this.#pending = [];
  }

  #compileDirty(): void {
    if (
      this.#dirtyGroups.size === 0 &&
      this.#dirtyPorts.size === 0 &&
      this.#removedParts.size === 0
    )
      return;
    const lines: DeltaLines = {
      create: [],
      deleteElements: [],
      addElements: [],
      rewrite: [],
      flushRemoved: [],
      remove: [],
    };
    for (const part of this.#removedParts.values()) this.#replace(part, undefined, lines);
    this.#removedParts.clear();
    for (const groupId of this.#dirtyGroups) {
      const entry = this.#groups.get(groupId);
      if (!entry) continue;
      const part = compileGroupPart(entry.group, this.#context);
      this.#updateReferences(groupId, entry.part, part);
      this.#replace(entry.part, part, lines);
      entry.part = part;
    }
    for (const portName of this.#dirtyPorts) {
      const entry = this.#ports.get(portName);
      if (!entry) continue;
      const part = compilePortPart(entry.port, this.#context);
      this.#replace(entry.part, part, lines);
      entry.part = part;
    }
    this.#dirtyGroups.clear();
    this.#dirtyPorts.clear();
    const all = [
      ...lines.create,
      ...lines.deleteElements,
      ...lines.addElements,
      ...lines.rewrite,
      ...lines.flushRemoved,
      ...lines.remove,
    ];
    if (all.length > 0) this.#pending.push(`${all.join('\n')}\n`);
  }

  /** Swaps one part for another in the desired ruleset, writing the commands for the difference. */
  #replace(
    before: RulesetPart | undefined,
    after: RulesetPart | undefined,
    lines: DeltaLines,
  ): void {
    this.#counterLines(before?.counters ?? [], after?.counters ?? [], lines);
    this.#chainLines(before?.chains ?? [], after?.chains ?? [], lines);
    this.#elementLines(before, after, lines);
    this.#mapLines(before, after, lines);
    if (before) removePart(this.#desired, before);
    if (after) addPart(this.#desired, after);
  }

  #counterLines(before: readonly string[], after: readonly string[], lines: DeltaLines): void {
    for (const counter of after)
      if (!before.includes(counter))
        lines.create.push(`add counter inet ${this.#table} ${counter}`);
    for (const counter of before)
      if (!after.includes(counter))
        lines.remove.push(`delete counter inet ${this.#table} ${counter}`);
  }

  #chainLines(before: readonly NftChain[], after: readonly NftChain[], lines: DeltaLines): void {
    const table = this.#table;
    const oldChains = new Map(before.map((chain) => [chain.name, chain]));
    const newNames = new Set(after.map((chain) => chain.name));
    for (const chain of after) {
      const old = oldChains.get(chain.name);
      const state = chainStateOf(chain);
      if (!old) lines.create.push(`add chain inet ${table} ${chain.name}`);
      else if (chainStateOf(old) === state) continue;
      else lines.rewrite.push(`flush chain inet ${table} ${chain.name}`);
      for (const rule of chain.rules)
        lines.rewrite.push(`add rule inet ${table} ${chain.name} ${rule} comment "h:${state}"`);
    }
    for (const name of oldChains.keys()) {
      if (newNames.has(name)) continue;
      lines.flushRemoved.push(`flush chain inet ${table} ${name}`);
      lines.remove.push(`delete chain inet ${table} ${name}`);
    }
  }

  #elementLines(
    before: RulesetPart | undefined,
    after: RulesetPart | undefined,
    lines: DeltaLines,
  ): void {
    const setNames = new Set([
      ...(before?.elements.keys() ?? []),
      ...(after?.elements.keys() ?? []),
    ]);
    for (const setName of setNames) {
      const set = this.#desired.sets.get(setName);
      if (!set) continue;
      const old = before?.elements.get(setName) ?? new Map<string, NftElement>();
      const next = after?.elements.get(setName) ?? new Map<string, NftElement>();
      const gone = [...old]
        .filter(([key]) => !next.has(key))
        .map(([, element]) => renderElement(set, element));
      const added = [...next]
        .filter(([key]) => !old.has(key))
        .map(([, element]) => renderElement(set, element));
      if (gone.length > 0)
        lines.deleteElements.push(
          `delete element inet ${this.#table} ${setName} { ${gone.join(', ')} }`,
        );
      if (added.length > 0)
        lines.addElements.push(
          `add element inet ${this.#table} ${setName} { ${added.join(', ')} }`,
        );
    }
  }

  #mapLines(
    before: RulesetPart | undefined,
    after: RulesetPart | undefined,
    lines: DeltaLines,
  ): void {
    const mapNames = new Set([
      ...(before?.mapEntries.keys() ?? []),
      ...(after?.mapEntries.keys() ?? []),
    ]);
    for (const mapName of mapNames) {
      const old = before?.mapEntries.get(mapName) ?? new Map<string, string>();
      const next = after?.mapEntries.get(mapName) ?? new Map<string, string>();
      const gone = [...old.keys()].filter((key) => next.get(key) !== old.get(key));
      const added = [...next].filter(([key, target]) => old.get(key) !== target);
      const map = this.#desired.maps.get(mapName);
      // Map entries point at chains: removed after their chains' rewrites, added after creation.
      if (gone.length > 0)
        lines.rewrite.unshift(
          `delete element inet ${this.#table} ${mapName} { ${gone.map((key) => (map ? renderMapKey(map, key) : JSON.stringify(key))).join(', ')} }`,
        );
      if (added.length > 0 && map) {
        const entries = added.map(([key, value]) => renderMapEntry(map, key, value)).join(', ');
        lines.rewrite.push(`add element inet ${this.#table} ${mapName} { ${entries} }`);
      }
    }
  }
}
