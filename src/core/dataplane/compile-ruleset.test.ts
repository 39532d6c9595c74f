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

describe('compiling a router ruleset', () => {
  const ruleset = compileRouterRuleset({ table: 'sgpods', groups: groups(), ports });

  it('puts CIDR rules into one set of disjoint elements per kind and family', () => {
    const set = ruleset.sets.get(objectNames.groupSet(db, 'ingress', 4, 'p'));
    expect(set?.type).toEqual(['inet_proto', 'inet_service', 'ipv4_addr']);
    // 10.2.3.4/32 lies inside 10.0.0.0/8 on the same port: it adds no element.
    expect(set?.elements.size).toBeGreaterThanOrEqual(2);
    const chain = ruleset.chains.get(objectNames.groupChain(db, 'ingress'));
    expect(chain?.rules).toContain(`meta l4proto . th dport . ip saddr @${set?.name} accept`);
  });

  it('matches group references through the referenced group member set', () => {
    const members = ruleset.sets.get(objectNames.memberSet(app, 4));
    expect(members?.elements.size).toBe(2);
    const chain = ruleset.chains.get(objectNames.groupChain(db, 'ingress'));
    expect(chain?.rules).toContain(
      `ip saddr @${objectNames.memberSet(app, 4)} meta l4proto . th dport { 6 . 5432 } accept`,
    );
  });

  it('sends egress matches to the ingress gate, never straight to accept', () => {
    const egress = ruleset.chains.get(objectNames.groupChain(app, 'egress'));
    expect(egress?.rules.every((rule) => rule.endsWith('goto sg_ingress'))).toBe(true);
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

  it('turns a membership change into set elements only', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: [...ports, port('pnew', '10.0.1.3', [app])],
    });
    const lines = planRuleset(stateOfRuleset(before), after).script.trim().split('\n');
    expect(lines).toContain(
      `add element inet sgpods ${objectNames.memberSet(app, 4)} { 10.0.1.3 }`,
    );
    expect(
      lines.some((line) =>
        line.startsWith(`flush chain inet sgpods ${objectNames.groupChain(db, 'ingress')}`),
      ),
    ).toBe(false);
  });

  it('turns a CIDR rule change into elements of that group only', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups([{ protocol: 'udp', fromPort: 53, toPort: 53, cidrIpv4: '192.168.0.0/16' }]),
      ports,
    });
    const lines = planRuleset(stateOfRuleset(before), after).script.trim().split('\n');
    expect(lines.every((line) => line.includes(db))).toBe(true);
  });

  it('removes what is gone last, after the references to it', () => {
    const after = compileRouterRuleset({
      table: 'sgpods',
      groups: groups(),
      ports: ports.slice(0, 2),
    });
    const lines = planRuleset(stateOfRuleset(before), after).script.trim().split('\n');
    const mapDelete = lines.findIndex((line) =>
      line.startsWith('delete element inet sgpods egress_ports'),
    );
    const chainDelete = lines.findIndex((line) => line === 'delete chain inet sgpods e_pnat_o');
    expect(mapDelete).toBeGreaterThanOrEqual(0);
    expect(chainDelete).toBeGreaterThan(mapDelete);
    expect(lines.at(-1)).toMatch(/^delete counter inet sgpods d_pnat_/);
  });
});
