import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../net/ip-address.js';
import { normalizeRule, type RuleSpec } from '../sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../sg/security-group.js';
import {
  chainNames,
  compileRouterRuleset,
  maxGroupsPerPort,
  objectNames,
  shardCount,
  type RouterPort,
} from './compile-ruleset.js';
import { planRuleset, stateOfRuleset } from './nft-plan.js';

const db = 'sg-0000000000000000d';
const app = 'sg-0000000000000000a';
const ingress = (spec: RuleSpec) => normalizeRule(db, 'ingress', spec);
const groups = (extra: RuleSpec[] = []): SecurityGroup[] => [
  {
    groupId: db,
    groupName: 'db',
    rules: [
      ingress({ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrIpv4: '10.0.0.0/8' }),
      ingress({ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrIpv4: '10.2.3.4/32' }),
      ingress({ protocol: 'tcp', fromPort: 5000, toPort: 6000, cidrIpv4: '10.1.0.0/16' }),
      ingress({ protocol: 'tcp', fromPort: 5432, toPort: 5432, referencedGroupId: app }),
      ...extra.map(ingress),
      ...newGroupRules(db),
    ],
  },
  { groupId: app, groupName: 'app', rules: newGroupRules(app) },
];
const port = (
  name: string,
  address: string,
  groupIds: string[],
  sourceDestCheck = true,
): RouterPort => ({
  portName: name,
  kind: 'eni',
  addresses: [parseIpAddress(address)!],
  groupIds,
  sourceDestCheck,
});
const ports = [
  port('pdb', '10.0.9.9', [db]),
  port('papp', '10.0.1.1', [app]),
  port('pnat', '10.0.1.2', [app], false),
];
const extraGroup = (i: number): SecurityGroup => {
  const groupId = `sg-${(i + 100).toString(16).padStart(17, '0')}`;
  return { groupId, groupName: 'x', rules: newGroupRules(groupId) };
};
const markOf = (ruleset: ReturnType<typeof compileRouterRuleset>, portName: string) =>
  ruleset.maps.get(objectNames.slot(1))?.elements.get(portName);
const shardOf = (mark: string | undefined) => Number(mark) & (shardCount - 1);
const elementsOf = (
  ruleset: ReturnType<typeof compileRouterRuleset>,
  setName: string,
  mark: string | undefined,
) =>
  [...(ruleset.sets.get(setName)?.elements.values() ?? [])].filter(
    (element) => element[0]?.kind === 'interval' && String(element[0].lo) === mark,
  );

describe('compiling a router ruleset', () => {
  const ruleset = compileRouterRuleset({ table: 'sgpods', groups: groups(), ports });

  it('puts CIDR rules into a shared set keyed by the group index, disjoint per group', () => {
    const mark = markOf(ruleset, 'pdb');
    const setName = objectNames.cidrSet('ingress', 4, 'p', shardOf(mark));
    expect(ruleset.sets.get(setName)?.type).toEqual([
      'mark',
      'inet_proto',
      'inet_service',
      'ipv4_addr',
    ]);
    const mine = elementsOf(ruleset, setName, mark);
    // 10.2.3.4/32 lies inside 10.0.0.0/8 on the same port: the group's elements stay disjoint.
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine.length).toBeLessThanOrEqual(4);
  });

  it('expands a group reference into the member addresses, under the referring group', () => {
    const mark = markOf(ruleset, 'pdb');
    const refs = elementsOf(
      ruleset,
      objectNames.referenceSet('ingress', 4, 'p', shardOf(mark)),
      mark,
    );
    const peers = refs.map((element) => element[3]?.kind === 'interval' && element[3].lo);
    expect(peers.sort()).toEqual(
      [parseIpAddress('10.0.1.1')!.value, parseIpAddress('10.0.1.2')!.value].sort(),
    );
  });

  it('dispatches each port to the gate for its number of groups, its groups in slots', () => {
    expect(ruleset.maps.get(objectNames.ingressPorts)?.elements.get('pdb')).toBe(
      chainNames.gate('ingress', 1),
    );
    expect(ruleset.maps.get(objectNames.slot(2))?.elements.has('pdb')).toBe(false);
    const gate = ruleset.chains.get(chainNames.gate('ingress', 2))?.rules ?? [];
    expect(gate).toEqual([
      'meta mark set oifname map @slot_1 meta mark and 15 vmap @shards_i',
      'meta mark set oifname map @slot_2 meta mark and 15 vmap @shards_i',
      'update @drops_i { oifname } log prefix "sgpods ingress drop " group 27 queue-threshold 1 drop',
    ]);
    expect(ruleset.chains.get(chainNames.lookup('ingress', 3))?.rules[0]).toBe(
      'meta mark . meta l4proto . th dport . ip saddr @cidr_i_4p_3 log prefix "sgpods accept " group 27 queue-threshold 1 accept',
    );
  });

  it('keeps the chains fixed whatever the number of groups and ports', () => {
    const many = Array.from({ length: 50 }, (_, i) => extraGroup(i));
    const bigger = compileRouterRuleset({
      table: 'sgpods',
      groups: [...groups(), ...many],
      ports: [...ports, port('pmore', '10.0.3.3', [many[0]!.groupId])],
    });
    expect(bigger.chains.size).toBe(ruleset.chains.size);
    expect(bigger.sets.size).toBe(ruleset.sets.size);
    expect(ruleset.chains.size).toBe(3 + 2 * (maxGroupsPerPort + 1 + shardCount));
  });

  it('sends egress matches to the ingress gate, never straight to accept', () => {
    const rules = ruleset.chains.get(chainNames.lookup('egress', 0))?.rules ?? [];
    expect(rules.length).toBeGreaterThan(0);
    expect(
      rules
        .filter((rule) => rule !== 'meta nfproto ipv4 return')
        .every((rule) => rule.endsWith('goto sg_ingress')),
    ).toBe(true);
  });

  it('lets only ports without source/destination check send from any address', () => {
    expect([...(ruleset.sets.get('src_any')?.elements.keys() ?? [])]).toEqual(['"pnat"']);
    expect(ruleset.sets.get('src_ok_4')?.elements.size).toBe(2);
  });
});

describe('planning nft transactions', () => {
  const before = compileRouterRuleset({ table: 'sgpods', groups: groups(), ports });
  const linesOf = (script: string) => script.trim().split('\n');

  it('creates everything from scratch, table first', () => {
    const plan = planRuleset(undefined, before);
    expect(plan.script.split('\n')[0]).toBe('add table inet sgpods');
    expect(plan.script).toContain(
      'add chain inet sgpods forward_gate { type filter hook forward priority filter; policy drop; }',
    );
    expect(plan.script).toContain(
      'add set inet sgpods drops_i { type ifname; flags dynamic; counter; }',
    );
  });

  it('plans nothing when nothing changed', () => {
    expect(planRuleset(stateOfRuleset(before), before).script).toBe('');
  });

  it('turns a membership change into set and map elements only', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: [...ports, port('pnew', '10.0.1.3', [app])],
    });
    const lines = linesOf(planRuleset(stateOfRuleset(before), after).script);
    expect(lines.every((line) => line.startsWith('add element'))).toBe(true);
    expect(
      lines.some((line) =>
        /^add element inet sgpods refs_i_4p_\d+ \{ \d+ \. 6 \. 5432 \. 10\.0\.1\.3-10\.0\.1\.3 \}$/.test(
          line,
        ),
      ),
    ).toBe(true);
  });

  it('turns a CIDR rule change into one set element', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups([{ protocol: 'udp', fromPort: 53, toPort: 53, cidrIpv4: '192.168.0.0/16' }]),
      ports,
    });
    const lines = linesOf(planRuleset(stateOfRuleset(before), after).script);
    expect(lines).toEqual([
      expect.stringMatching(
        /^add element inet sgpods cidr_i_4p_\d+ \{ \d+ \. 17 \. 53 \. 192\.168\.0\.0\/16 \}$/,
      ),
    ]);
  });

  it('removes a port with element deletions only', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: ports.slice(0, 2),
    });
    const lines = linesOf(planRuleset(stateOfRuleset(before), after).script);
    expect(lines.every((line) => line.startsWith('delete element'))).toBe(true);
    expect(lines.some((line) => line.includes('egress_ports') && line.includes('"pnat"'))).toBe(
      true,
    );
  });
});
