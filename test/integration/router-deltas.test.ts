/**
 * Incremental transactions against the real kernel: after every burst of random changes, the
 * kernel's table must equal the desired ruleset (read back and planned: nothing left to do);
 * and concurrent changes coalesce into one transaction.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCidr, parseIpAddress } from '../../src/core/net/ip-address.js';
import { normalizeRule, type RuleSpec } from '../../src/core/sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../../src/core/sg/security-group.js';
import { applyNftScript } from '../../src/adapters/nft/nft.js';
import { CommandError } from '../../src/core/errors.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

const groupIds = Array.from(
  { length: 12 },
  (_, i) => `sg-${(i + 1).toString(16).padStart(17, '0')}`,
);
const eniIds = Array.from(
  { length: 16 },
  (_, i) => `eni-${(i + 1).toString(16).padStart(17, '0')}`,
);
const subnet = parseCidr('10.0.0.0/16')!.cidr;

const specArb: fc.Arbitrary<RuleSpec> = fc.oneof(
  fc.record({
    protocol: fc.constantFrom('tcp', 'udp'),
    fromPort: fc.constantFrom(22, 80, 1000),
    toPort: fc.constantFrom(1000, 2000),
    cidrIpv4: fc.constantFrom('10.0.0.0/8', '10.0.1.0/24', '0.0.0.0/0', '10.0.0.5/32'),
  }),
  fc.record({
    protocol: fc.constantFrom('-1', 'tcp'),
    fromPort: fc.constant(443),
    toPort: fc.constant(443),
    referencedGroupId: fc.constantFrom(...groupIds),
  }),
  fc.record({
    protocol: fc.constant('icmp'),
    fromPort: fc.constantFrom(-1, 3, 8),
    toPort: fc.constantFrom(-1, 4),
    cidrIpv4: fc.constant('10.0.0.0/8'),
  }),
  fc.record({
    protocol: fc.constant('icmpv6'),
    cidrIpv6: fc.constantFrom('::/0', '2001:db8::/64'),
  }),
);

function groupOf(groupId: string, specs: ['ingress' | 'egress', RuleSpec][]): SecurityGroup {
  const seen = new Set<string>();
  const rules = specs
    .map(([direction, spec]) => normalizeRule(groupId, direction, spec))
    .filter((rule) => {
      const key = JSON.stringify(rule, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      return !seen.has(key) && seen.add(key);
    });
  return { groupId, groupName: groupId, rules: [...rules, ...newGroupRules(groupId)] };
}

type Change =
  | { kind: 'group'; groupId: string; specs: ['ingress' | 'egress', RuleSpec][] }
  | { kind: 'drop-group'; groupId: string }
  | { kind: 'membership'; eni: number; groups: string[] };

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    kind: fc.constant('group' as const),
    groupId: fc.constantFrom(...groupIds),
    specs: fc.array(fc.tuple(fc.constantFrom<'ingress' | 'egress'>('ingress', 'egress'), specArb), {
      maxLength: 6,
    }),
  }),
  fc.record({ kind: fc.constant('drop-group' as const), groupId: fc.constantFrom(...groupIds) }),
  fc.record({
    kind: fc.constant('membership' as const),
    eni: fc.nat(eniIds.length - 1),
    groups: fc.uniqueArray(fc.constantFrom(...groupIds), { maxLength: 4 }),
  }),
);

describe.skipIf(!isRoot)('incremental router transactions on the kernel', () => {
  let home: TestHome;
  let router: VpcRouter;

  beforeEach(async () => {
    home = createTestHome();
    router = await VpcRouter.open({ prefix: home.prefix, namespace: `${home.prefix}r` });
    router.setGroups(groupIds.map((groupId) => groupOf(groupId, [])));
    eniIds.forEach((networkInterfaceId, i) =>
      router.adoptInterface({
        networkInterfaceId,
        hostNamespace: 'unused',
        hostInterface: 'eth0',
        addresses: [parseIpAddress(`10.0.0.${i + 10}`)!, parseIpAddress(`2001:db8::${i + 10}`)!],
        subnet,
        groupIds: [groupIds[i % groupIds.length]!],
      }),
    );
    await router.flush();
  });

  afterEach(async () => {
    await router.destroy();
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  it('keeps the kernel equal to the desired ruleset after every burst of random changes', async () => {
    const bursts = fc.sample(fc.array(changeArb, { minLength: 1, maxLength: 6 }), {
      numRuns: 40,
      seed: 20261126,
    });
    for (const burst of bursts) {
      for (const change of burst) {
        if (change.kind === 'group') router.putGroup(groupOf(change.groupId, change.specs));
        else if (change.kind === 'drop-group') router.removeGroup(change.groupId);
        else router.setInterfaceGroups(eniIds[change.eni]!, change.groups);
      }
      await router.flush();
      expect(await router.pendingPlan(), `after ${JSON.stringify(burst)}`).toBe('');
    }
  });

  it('after a failed transaction, the next flush reads the kernel back and converges', async () => {
    // Someone removes the table under the router: the next incremental delta cannot apply.
    await applyNftScript(router.namespace, 'delete table inet sgpods\n');
    router.setInterfaceGroups(eniIds[0]!, [groupIds[3]!]);
    await expect(router.flush()).rejects.toThrow(CommandError);
    // Nothing changed since; the next flush is a full resync from what the kernel holds (nothing).
    await router.flush();
    expect(await router.pendingPlan()).toBe('');
  });

  it('coalesces a burst of concurrent changes into one transaction', async () => {
    const before = router.transactions;
    await Promise.all(
      eniIds.map((eniId, i) => {
        router.setInterfaceGroups(eniId, [groupIds[(i + 1) % groupIds.length]!]);
        return router.flush();
      }),
    );
    expect(router.transactions - before).toBeLessThanOrEqual(2);
    expect(await router.pendingPlan()).toBe('');
  });
});
