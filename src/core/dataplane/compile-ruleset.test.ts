import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../net/ip-address.js';
import { normalizeRule, type RuleSpec } from '../sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../sg/security-group.js';
import { compileRouterRuleset, objectNames, type RouterPort } from './compile-ruleset.js';
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

describe('compiling a router ruleset', () => {
  const ruleset = compileRouterRuleset({ table: 'sgpods', groups: groups(), ports });

  it('puts CIDR rules into a shared set, keyed by the group index the chain marks', () => {
    const set = ruleset.sets.get(objectNames.cidrSet('ingress', 4, 'p'));
    expect(set?.type).toEqual(['mark', 'inet_proto', 'inet_service', 'ipv4_addr']);
    const [markRule, lookup] =
      ruleset.chains.get(objectNames.groupChain(db, 'ingress'))?.rules ?? [];
    const index = /^meta mark set (\d+)$/.exec(markRule ?? '')?.[1];
    expect(index).toBeDefined();
    expect(lookup).toBe(`meta mark . meta l4proto . th dport . ip saddr @${set?.name} accept`);
    const mine = [...(set?.elements.values() ?? [])].filter(
      (element) => element[0]?.kind === 'interval' && String(element[0].lo) === index,
    );
    // 10.2.3.4/32 lies inside 10.0.0.0/8 on the same port: the group's elements stay disjoint.
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine.length).toBeLessThanOrEqual(4);
  });

  it('matches group references through the shared member set (address . group)', () => {
    // pdb carries db; papp and pnat carry app.
    expect(ruleset.sets.get(objectNames.memberSet(4))?.elements.size).toBe(3);
    const reference = ruleset.chains
      .get(objectNames.groupChain(db, 'ingress'))
      ?.rules.find((rule) => rule.includes('@members_4'));
    expect(reference).toMatch(
      /^meta mark set \d+ ip saddr \. meta mark @members_4 meta mark set \d+ meta mark \. meta l4proto \. th dport @ref_i_4p accept$/,
    );
  });

  it('keeps the number of sets fixed whatever the number of groups', () => {
    const many = Array.from({ length: 50 }, (_, i) => extraGroup(i));
    const bigger = compileRouterRuleset({ table: 'sgpods', groups: [...groups(), ...many], ports });
    expect(bigger.sets.size).toBe(ruleset.sets.size);
  });

  it('sends egress matches to the ingress gate, never straight to accept', () => {
    const egress = ruleset.chains.get(objectNames.groupChain(app, 'egress'));
    const verdicts = egress?.rules.filter((rule) => !/^meta mark set \d+$/.test(rule)) ?? [];
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((rule) => rule.endsWith('goto sg_ingress'))).toBe(true);
  });

  it('lets only ports without source/destination check send from any address', () => {
    expect([...(ruleset.sets.get('src_any')?.elements.keys() ?? [])]).toEqual(['"pnat"']);
    expect(ruleset.sets.get('src_ok_4')?.elements.size).toBe(2);
  });

  it('ends every ENI chain with its drop counter', () => {
    const chain = ruleset.chains.get(objectNames.portChain('pdb', 'ingress'));
    expect(chain?.rules).toEqual([
      `jump ${objectNames.groupChain(db, 'ingress')}`,
      'counter name "d_pdb_i" drop',
    ]);
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
  });

  it('plans nothing when nothing changed', () => {
    expect(planRuleset(stateOfRuleset(before), before).script).toBe('');
  });

  it('turns a membership change into set elements and the new ENI only', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: [...ports, port('pnew', '10.0.1.3', [app])],
    });
    const lines = linesOf(planRuleset(stateOfRuleset(before), after).script);
    expect(
      lines.some((line) =>
        /^add element inet sgpods members_4 \{ 10\.0\.1\.3 \. \d+ \}$/.test(line),
      ),
    ).toBe(true);
    expect(lines.filter((line) => line.startsWith('flush chain'))).toEqual([]);
    expect(
      lines.every(
        (line) =>
          line.startsWith('add ') &&
          (line.includes('pnew') || line.includes('members_4') || line.includes('src_ok_4')),
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
    expect(lines.filter((line) => line.startsWith('add element'))).toEqual([
      expect.stringMatching(
        /^add element inet sgpods cidr_i_4p \{ \d+ \. 17 \. 53 \. 192\.168\.0\.0\/16 \}$/,
      ),
    ]);
    // The group already looked up tcp/udp ports: its chain is unchanged.
    expect(lines).toHaveLength(1);
  });

  it('removes what is gone last, after the references to it', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: ports.slice(0, 2),
    });
    const lines = linesOf(planRuleset(stateOfRuleset(before), after).script);
    const mapDelete = lines.findIndex((line) =>
      line.startsWith('delete element inet sgpods egress_ports'),
    );
    const chainDelete = lines.findIndex((line) => line === 'delete chain inet sgpods e_pnat_o');
    expect(mapDelete).toBeGreaterThanOrEqual(0);
    expect(chainDelete).toBeGreaterThan(mapDelete);
    expect(lines.at(-1)).toMatch(/^delete counter inet sgpods d_pnat_/);
  });
});
