/**
 * Typed access to the EC2 tables. Rows keep EC2's wire values (protocol `tcp`/`-1`, ports -1 for
 * "all"); `ruleOfRow` turns a stored rule back into the core model with the same normalisation
 * Authorize used, so what is stored and what is enforced cannot disagree.
 */
import { formatProtocol } from '../../../core/sg/protocol.js';
import type { PrefixListWeight } from '../../../core/sg/quota.js';
import { normalizeRule, ruleKey, type SecurityGroupRule } from '../../../core/sg/rule.js';
import type { SecurityGroup } from '../../../core/sg/security-group.js';
import type { CloudDatabase } from './cloud-database.js';
import { ComputeStore } from './compute-store.js';
import { IamStore } from './iam-store.js';
import { RdsStore } from './rds-store.js';

export interface VpcRow {
  readonly vpcId: string;
  readonly cidrBlock: string;
  readonly associationId: string;
  readonly dhcpOptionsId: string;
  readonly isDefault: boolean;
  readonly ownerId: string;
}

export interface SubnetRow {
  readonly subnetId: string;
  readonly vpcId: string;
  readonly cidrBlock: string;
  readonly availabilityZone: string;
  readonly availabilityZoneId: string;
  readonly mapPublicIpOnLaunch: boolean;
  readonly ownerId: string;
}

export interface GroupRow {
  readonly groupId: string;
  readonly vpcId: string;
  readonly groupName: string;
  readonly description: string;
  readonly ownerId: string;
}

export interface RuleRow {
  readonly ruleId: string;
  readonly groupId: string;
  readonly isEgress: boolean;
  readonly ipProtocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4?: string | undefined;
  readonly cidrIpv6?: string | undefined;
  readonly prefixListId?: string | undefined;
  readonly referencedGroupId?: string | undefined;
  readonly description?: string | undefined;
}

export interface TagRow {
  readonly resourceId: string;
  readonly resourceType: string;
  readonly key: string;
  readonly value: string;
}

export interface PrefixListRow {
  readonly prefixListId: string;
  readonly prefixListName: string;
  readonly addressFamily: 'IPv4' | 'IPv6';
  readonly maxEntries: number;
  readonly version: number;
  readonly state: string;
  readonly ownerId: string;
}

export interface PrefixListEntryRow {
  readonly prefixListId: string;
  readonly cidr: string;
  readonly description?: string | undefined;
}

type Raw = Record<string, unknown>;
const text = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const optionalText = (value: unknown): string | undefined =>
  value === null || value === undefined ? undefined : text(value);

function vpcOf(raw: Raw): VpcRow {
  return {
    vpcId: text(raw.vpc_id),
    cidrBlock: text(raw.cidr_block),
    associationId: text(raw.association_id),
    dhcpOptionsId: text(raw.dhcp_options_id),
    isDefault: raw.is_default === 1,
    ownerId: text(raw.owner_id),
  };
}

function subnetOf(raw: Raw): SubnetRow {
  return {
    subnetId: text(raw.subnet_id),
    vpcId: text(raw.vpc_id),
    cidrBlock: text(raw.cidr_block),
    availabilityZone: text(raw.availability_zone),
    availabilityZoneId: text(raw.availability_zone_id),
    mapPublicIpOnLaunch: raw.map_public_ip_on_launch === 1,
    ownerId: text(raw.owner_id),
  };
}

function groupOf(raw: Raw): GroupRow {
  return {
    groupId: text(raw.group_id),
    vpcId: text(raw.vpc_id),
    groupName: text(raw.group_name),
    description: text(raw.description),
    ownerId: text(raw.owner_id),
  };
}

function ruleRowOf(raw: Raw): RuleRow {
  return {
    ruleId: text(raw.rule_id),
    groupId: text(raw.group_id),
    isEgress: raw.is_egress === 1,
    ipProtocol: text(raw.ip_protocol),
    fromPort: Number(raw.from_port),
    toPort: Number(raw.to_port),
    cidrIpv4: optionalText(raw.cidr_ipv4),
    cidrIpv6: optionalText(raw.cidr_ipv6),
    prefixListId: optionalText(raw.prefix_list_id),
    referencedGroupId: optionalText(raw.referenced_group_id),
    description: optionalText(raw.description),
  };
}

function prefixListOf(raw: Raw): PrefixListRow {
  return {
    prefixListId: text(raw.prefix_list_id),
    prefixListName: text(raw.prefix_list_name),
    addressFamily: raw.address_family === 'IPv6' ? 'IPv6' : 'IPv4',
    maxEntries: Number(raw.max_entries),
    version: Number(raw.version),
    state: text(raw.state),
    ownerId: text(raw.owner_id),
  };
}

/** A core rule as a row: wire protocol, ports -1/-1 when the rule has none. */
export function rowOfRule(rule: SecurityGroupRule, ruleId: string): RuleRow {
  const ports =
    rule.ports.kind === 'range'
      ? { fromPort: rule.ports.from, toPort: rule.ports.to }
      : rule.ports.kind === 'icmp'
        ? { fromPort: rule.ports.type, toPort: rule.ports.code }
        : { fromPort: -1, toPort: -1 };
  const peer = rule.peer;
  return {
    ruleId,
    groupId: rule.groupId,
    isEgress: rule.direction === 'egress',
    ipProtocol: formatProtocol(rule.protocol),
    ...ports,
    cidrIpv4: peer.kind === 'cidr' && peer.cidr.family === 4 ? peer.cidr.text : undefined,
    cidrIpv6: peer.kind === 'cidr' && peer.cidr.family === 6 ? peer.cidr.text : undefined,
    prefixListId: peer.kind === 'prefix-list' ? peer.prefixListId : undefined,
    referencedGroupId: peer.kind === 'group' ? peer.groupId : undefined,
    description: rule.description,
  };
}

/** Wire protocols whose rules carry ports (or an ICMP type and code) in `fromPort`/`toPort`. */
export const portedProtocols: ReadonlySet<string> = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

/** A stored rule in the core model (with its id). */
export function ruleOfRow(row: RuleRow): SecurityGroupRule {
  const rule = normalizeRule(row.groupId, row.isEgress ? 'egress' : 'ingress', {
    protocol: row.ipProtocol,
    ...(portedProtocols.has(row.ipProtocol) ? { fromPort: row.fromPort, toPort: row.toPort } : {}),
    ...(row.cidrIpv4 !== undefined ? { cidrIpv4: row.cidrIpv4 } : {}),
    ...(row.cidrIpv6 !== undefined ? { cidrIpv6: row.cidrIpv6 } : {}),
    ...(row.prefixListId !== undefined ? { prefixListId: row.prefixListId } : {}),
    ...(row.referencedGroupId !== undefined ? { referencedGroupId: row.referencedGroupId } : {}),
    ...(row.description !== undefined ? { description: row.description } : {}),
  });
  return { ...rule, ruleId: row.ruleId };
}

function ruleParameters(rule: SecurityGroupRule, row: RuleRow): Record<string, unknown> {
  return {
    cidrIpv4: null,
    cidrIpv6: null,
    prefixListId: null,
    referencedGroupId: null,
    description: null,
    ...Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)),
    isEgress: row.isEgress ? 1 : 0,
    ruleKey: ruleKey(rule),
  };
}

export class Ec2Store {
  readonly #statements;
  /** Instances, network interfaces and trunk associations, in the same database. */
  readonly compute: ComputeStore;
  /** IAM roles and their policies. */
  readonly iam: IamStore;
  /** RDS subnet groups and DB instances. */
  readonly rds: RdsStore;

  constructor(readonly database: CloudDatabase) {
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      metaGet: prepare('SELECT value FROM meta WHERE key = ?'),
      metaSet: prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      nextSeq: prepare(
        `INSERT INTO sequence (name, value) VALUES (?, 1)
         ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
      vpcs: prepare('SELECT * FROM vpcs ORDER BY seq'),
      insertVpc: prepare(
        `INSERT INTO vpcs (vpc_id, cidr_block, association_id, dhcp_options_id, is_default, owner_id, seq)
         VALUES (@vpcId, @cidrBlock, @associationId, @dhcpOptionsId, @isDefault, @ownerId, @seq)`,
      ),
      subnets: prepare('SELECT * FROM subnets ORDER BY seq'),
      insertSubnet: prepare(
        `INSERT INTO subnets (subnet_id, vpc_id, cidr_block, availability_zone, availability_zone_id,
           map_public_ip_on_launch, owner_id, seq)
         VALUES (@subnetId, @vpcId, @cidrBlock, @availabilityZone, @availabilityZoneId,
           @mapPublicIpOnLaunch, @ownerId, @seq)`,
      ),
      groups: prepare('SELECT * FROM security_groups ORDER BY seq'),
      group: prepare('SELECT * FROM security_groups WHERE group_id = ?'),
      groupByName: prepare(
        'SELECT * FROM security_groups WHERE vpc_id = ? AND lower(group_name) = lower(?)',
      ),
      groupCount: prepare('SELECT count(*) AS n FROM security_groups'),
      insertGroup: prepare(
        `INSERT INTO security_groups (group_id, vpc_id, group_name, description, owner_id, seq)
         VALUES (@groupId, @vpcId, @groupName, @description, @ownerId, @seq)`,
      ),
      deleteGroup: prepare('DELETE FROM security_groups WHERE group_id = ?'),
      rules: prepare('SELECT * FROM security_group_rules ORDER BY seq'),
      rulesOf: prepare('SELECT * FROM security_group_rules WHERE group_id = ? ORDER BY seq'),
      rule: prepare('SELECT * FROM security_group_rules WHERE rule_id = ?'),
      referencing: prepare(
        'SELECT * FROM security_group_rules WHERE referenced_group_id = ? AND group_id <> ? ORDER BY seq',
      ),
      referencingPrefixList: prepare(
        'SELECT * FROM security_group_rules WHERE prefix_list_id = ? ORDER BY seq',
      ),
      insertRule: prepare(
        `INSERT INTO security_group_rules (rule_id, group_id, is_egress, ip_protocol, from_port, to_port,
           cidr_ipv4, cidr_ipv6, prefix_list_id, referenced_group_id, description, rule_key, seq)
         VALUES (@ruleId, @groupId, @isEgress, @ipProtocol, @fromPort, @toPort, @cidrIpv4, @cidrIpv6,
           @prefixListId, @referencedGroupId, @description, @ruleKey, @seq)`,
      ),
      updateRule: prepare(
        `UPDATE security_group_rules SET ip_protocol = @ipProtocol, from_port = @fromPort,
           to_port = @toPort, cidr_ipv4 = @cidrIpv4, cidr_ipv6 = @cidrIpv6,
           prefix_list_id = @prefixListId, referenced_group_id = @referencedGroupId,
           description = @description, rule_key = @ruleKey
         WHERE rule_id = @ruleId`,
      ),
      parkRuleKey: prepare(
        "UPDATE security_group_rules SET rule_key = 'parked|' || rule_id WHERE rule_id = ?",
      ),
      deleteRule: prepare('DELETE FROM security_group_rules WHERE rule_id = ?'),
      tags: prepare('SELECT * FROM tags ORDER BY resource_id, key'),
      tagsOf: prepare('SELECT * FROM tags WHERE resource_id = ? ORDER BY key'),
      putTag: prepare(
        `INSERT INTO tags (resource_id, resource_type, key, value) VALUES (?, ?, ?, ?)
         ON CONFLICT(resource_id, key) DO UPDATE SET value = excluded.value`,
      ),
      deleteTag: prepare('DELETE FROM tags WHERE resource_id = ? AND key = ?'),
      deleteTagsOf: prepare('DELETE FROM tags WHERE resource_id = ?'),
      prefixLists: prepare('SELECT * FROM prefix_lists ORDER BY seq'),
      prefixList: prepare('SELECT * FROM prefix_lists WHERE prefix_list_id = ?'),
      insertPrefixList: prepare(
        `INSERT INTO prefix_lists (prefix_list_id, prefix_list_name, address_family, max_entries,
           version, state, owner_id, seq)
         VALUES (@prefixListId, @prefixListName, @addressFamily, @maxEntries, @version, @state,
           @ownerId, @seq)`,
      ),
      updatePrefixList: prepare(
        `UPDATE prefix_lists SET prefix_list_name = @prefixListName, max_entries = @maxEntries,
           version = @version, state = @state WHERE prefix_list_id = @prefixListId`,
      ),
      deletePrefixList: prepare('DELETE FROM prefix_lists WHERE prefix_list_id = ?'),
      entriesOf: prepare(
        'SELECT * FROM prefix_list_entries WHERE prefix_list_id = ? ORDER BY cidr',
      ),
      putEntry: prepare(
        `INSERT INTO prefix_list_entries (prefix_list_id, cidr, description) VALUES (?, ?, ?)
         ON CONFLICT(prefix_list_id, cidr) DO UPDATE SET description = excluded.description`,
      ),
      deleteEntry: prepare('DELETE FROM prefix_list_entries WHERE prefix_list_id = ? AND cidr = ?'),
    } as const;
    const nextSeq = (name: string) => this.#nextSeq(name);
    this.compute = new ComputeStore(database, nextSeq);
    this.iam = new IamStore(database, nextSeq);
    this.rds = new RdsStore(database, nextSeq);
  }

  /** Runs `work` as one transaction: all of it is committed, or none of it. */
  transaction<T>(work: () => T): T {
    return this.database.transaction(work)();
  }

  meta(key: string): string | undefined {
    const row = this.#statements.metaGet.get(key) as Raw | undefined;
    return row ? text(row.value) : undefined;
  }

  setMeta(key: string, value: string): void {
    this.#statements.metaSet.run(key, value);
  }

  #nextSeq(name: string): number {
    const row = this.#statements.nextSeq.get(name) as Raw;
    return Number(row.value);
  }

  vpcs(): VpcRow[] {
    return (this.#statements.vpcs.all() as Raw[]).map(vpcOf);
  }

  insertVpc(vpc: VpcRow): void {
    this.#statements.insertVpc.run({
      ...vpc,
      isDefault: vpc.isDefault ? 1 : 0,
      seq: this.#nextSeq('vpc'),
    });
  }

  subnets(): SubnetRow[] {
    return (this.#statements.subnets.all() as Raw[]).map(subnetOf);
  }

  insertSubnet(subnet: SubnetRow): void {
    this.#statements.insertSubnet.run({
      ...subnet,
      mapPublicIpOnLaunch: subnet.mapPublicIpOnLaunch ? 1 : 0,
      seq: this.#nextSeq('subnet'),
    });
  }

  groups(): GroupRow[] {
    return (this.#statements.groups.all() as Raw[]).map(groupOf);
  }

  group(groupId: string): GroupRow | undefined {
    const row = this.#statements.group.get(groupId) as Raw | undefined;
    return row ? groupOf(row) : undefined;
  }

  /** EC2 group names are unique per VPC, compared without case. */
  groupByName(vpcId: string, groupName: string): GroupRow | undefined {
    const row = this.#statements.groupByName.get(vpcId, groupName) as Raw | undefined;
    return row ? groupOf(row) : undefined;
  }

  groupCount(): number {
    return Number((this.#statements.groupCount.get() as Raw).n);
  }

  insertGroup(group: GroupRow): void {
    this.#statements.insertGroup.run({ ...group, seq: this.#nextSeq('group') });
  }

  deleteGroup(groupId: string): void {
    this.#statements.deleteGroup.run(groupId);
    this.#statements.deleteTagsOf.run(groupId);
  }

  rules(): RuleRow[] {
    return (this.#statements.rules.all() as Raw[]).map(ruleRowOf);
  }

  rulesOf(groupId: string): RuleRow[] {
    return (this.#statements.rulesOf.all(groupId) as Raw[]).map(ruleRowOf);
  }

  rule(ruleId: string): RuleRow | undefined {
    const row = this.#statements.rule.get(ruleId) as Raw | undefined;
    return row ? ruleRowOf(row) : undefined;
  }

  /** Rules of other groups that name `groupId` as their peer. */
  rulesReferencing(groupId: string): RuleRow[] {
    return (this.#statements.referencing.all(groupId, groupId) as Raw[]).map(ruleRowOf);
  }

  rulesReferencingPrefixList(prefixListId: string): RuleRow[] {
    return (this.#statements.referencingPrefixList.all(prefixListId) as Raw[]).map(ruleRowOf);
  }

  insertRule(rule: SecurityGroupRule, ruleId: string): RuleRow {
    const row = rowOfRule(rule, ruleId);
    this.#statements.insertRule.run({ ...ruleParameters(rule, row), seq: this.#nextSeq('rule') });
    return row;
  }

  /**
   * Replaces what rules match, keeping ids, positions and tags (ModifySecurityGroupRules). Keys
   * are parked first so rules may trade contents within one call.
   */
  replaceRules(rules: ReadonlyMap<string, SecurityGroupRule>): void {
    for (const ruleId of rules.keys()) this.#statements.parkRuleKey.run(ruleId);
    for (const [ruleId, rule] of rules) {
      this.#statements.updateRule.run(ruleParameters(rule, rowOfRule(rule, ruleId)));
    }
  }

  deleteRule(ruleId: string): void {
    this.#statements.deleteRule.run(ruleId);
    this.#statements.deleteTagsOf.run(ruleId);
  }

  /** A group with its rules in the core model (what the dataplane enforces). */
  securityGroup(groupId: string): SecurityGroup | undefined {
    const group = this.group(groupId);
    if (!group) return undefined;
    return {
      groupId,
      groupName: group.groupName,
      vpcId: group.vpcId,
      rules: this.rulesOf(groupId).map(ruleOfRow),
    };
  }

  securityGroups(): SecurityGroup[] {
    const rulesByGroup = new Map<string, SecurityGroupRule[]>();
    for (const row of this.rules()) {
      const list = rulesByGroup.get(row.groupId) ?? [];
      list.push(ruleOfRow(row));
      rulesByGroup.set(row.groupId, list);
    }
    return this.groups().map((group) => ({
      groupId: group.groupId,
      groupName: group.groupName,
      vpcId: group.vpcId,
      rules: rulesByGroup.get(group.groupId) ?? [],
    }));
  }

  tags(): TagRow[] {
    return (this.#statements.tags.all() as Raw[]).map((raw) => ({
      resourceId: text(raw.resource_id),
      resourceType: text(raw.resource_type),
      key: text(raw.key),
      value: text(raw.value),
    }));
  }

  tagsOf(resourceId: string): TagRow[] {
    return (this.#statements.tagsOf.all(resourceId) as Raw[]).map((raw) => ({
      resourceId,
      resourceType: text(raw.resource_type),
      key: text(raw.key),
      value: text(raw.value),
    }));
  }

  putTag(tag: TagRow): void {
    this.#statements.putTag.run(tag.resourceId, tag.resourceType, tag.key, tag.value);
  }

  deleteTag(resourceId: string, key: string): void {
    this.#statements.deleteTag.run(resourceId, key);
  }

  prefixLists(): PrefixListRow[] {
    return (this.#statements.prefixLists.all() as Raw[]).map(prefixListOf);
  }

  /** What each prefix list weighs against the rule quota of a group that references it. */
  prefixListWeights(): Map<string, PrefixListWeight> {
    return new Map(
      this.prefixLists().map((list) => [
        list.prefixListId,
        { family: list.addressFamily === 'IPv6' ? 6 : 4, maxEntries: list.maxEntries },
      ]),
    );
  }

  prefixList(prefixListId: string): PrefixListRow | undefined {
    const row = this.#statements.prefixList.get(prefixListId) as Raw | undefined;
    return row ? prefixListOf(row) : undefined;
  }

  insertPrefixList(row: PrefixListRow): void {
    this.#statements.insertPrefixList.run({ ...row, seq: this.#nextSeq('prefix-list') });
  }

  updatePrefixList(row: PrefixListRow): void {
    this.#statements.updatePrefixList.run(row);
  }

  deletePrefixList(prefixListId: string): void {
    this.#statements.deletePrefixList.run(prefixListId);
    this.#statements.deleteTagsOf.run(prefixListId);
  }

  entriesOf(prefixListId: string): PrefixListEntryRow[] {
    return (this.#statements.entriesOf.all(prefixListId) as Raw[]).map((raw) => ({
      prefixListId,
      cidr: text(raw.cidr),
      description: optionalText(raw.description),
    }));
  }

  putEntry(entry: PrefixListEntryRow): void {
    this.#statements.putEntry.run(entry.prefixListId, entry.cidr, entry.description ?? null);
  }

  deleteEntry(prefixListId: string, cidr: string): void {
    this.#statements.deleteEntry.run(prefixListId, cidr);
  }
}
