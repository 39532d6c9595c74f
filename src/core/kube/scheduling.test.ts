import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.js';
import { podRequests, schedule, type SchedulingNode } from './scheduling.js';

const node = (name: string, overrides: Partial<SchedulingNode> = {}): SchedulingNode => ({
  name,
  labels: { 'kubernetes.io/hostname': name, 'node.kubernetes.io/instance-type': 'm5.large' },
  taints: [],
  unschedulable: false,
  allocatable: { cpu: '1930m', memory: '7291Mi', pods: '29' },
  podSpecs: [],
  ...overrides,
});

const requesting = (resources: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  containers: [{ name: 'c', image: 'x', resources: { requests: resources, limits: resources } }],
  ...extra,
});

describe('quantities', () => {
  it.each([
    ['500m', 500n],
    ['1', 1000n],
    ['1024m', 1024n],
    ['256Mi', 256n * 1024n * 1024n * 1000n],
    ['1Gi', 1024n ** 3n * 1000n],
    ['2k', 2_000_000n],
    ['1e3', 1_000_000n],
    ['0.5', 500n],
    ['100M', 100_000_000_000n],
    ['1.5Gi', (1024n ** 3n * 3000n) / 2n],
  ])('%s → %d thousandths', (text, expected) => {
    expect(parseQuantity(text)).toBe(expected);
  });

  it('refuses what is not a quantity', () => {
    for (const text of ['', 'abc', '1Xi', '--1', '1.2.3'])
      expect(parseQuantity(text)).toBeUndefined();
  });

  it('orders integers as integers (property)', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.nat(1_000_000), (a, b) => {
        expect((parseQuantity(String(a)) ?? 0n) < (parseQuantity(String(b)) ?? 0n)).toBe(a < b);
      }),
    );
  });
});

describe('scheduling', () => {
  it('sums container requests, limits standing in for requests, at least the largest init', () => {
    const requests = podRequests({
      containers: [
        { resources: { requests: { cpu: '500m' }, limits: { memory: '512Mi' } } },
        { resources: { requests: { cpu: '250m' } } },
      ],
      initContainers: [{ resources: { requests: { cpu: '1' } } }],
    });
    expect(requests.get('cpu')).toBe(1000n);
    expect(requests.get('memory')).toBe(512n * 1024n * 1024n * 1000n);
  });

  it('words the pod-eni shortfall as kube-scheduler does', () => {
    const result = schedule(requesting({ 'vpc.amazonaws.com/pod-eni': '1' }), [
      node('a'),
      node('b'),
    ]);
    expect(result).toEqual({
      fits: false,
      message: '0/2 nodes are available: 2 Insufficient vpc.amazonaws.com/pod-eni.',
    });
    const withCapacity = node('b', {
      allocatable: { cpu: '2', memory: '8Gi', pods: '29', 'vpc.amazonaws.com/pod-eni': '9' },
    });
    expect(
      schedule(requesting({ 'vpc.amazonaws.com/pod-eni': '1' }), [node('a'), withCapacity]),
    ).toEqual({
      fits: true,
      nodes: ['b'],
    });
  });

  it('counts what the node already runs, and the pod count', () => {
    const busy = node('a', { podSpecs: [requesting({ cpu: '1500m' })] });
    expect(schedule(requesting({ cpu: '500m' }), [busy])).toEqual({
      fits: false,
      message: '0/1 nodes are available: 1 Insufficient cpu.',
    });
    const full = node('a', {
      allocatable: { cpu: '2', pods: '1' },
      podSpecs: [{ containers: [] }],
    });
    expect(schedule({ containers: [] }, [full])).toMatchObject({
      message: '0/1 nodes are available: 1 Too many pods.',
    });
  });

  it("follows the workshop's required node affinity on has-trunk-attached", () => {
    const affinity = {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'vpc.amazonaws.com/has-trunk-attached', operator: 'In', values: ['true'] },
                ],
              },
            ],
          },
        },
      },
    };
    const trunked = node('b', { labels: { 'vpc.amazonaws.com/has-trunk-attached': 'true' } });
    expect(schedule({ containers: [], ...affinity }, [node('a'), trunked])).toEqual({
      fits: true,
      nodes: ['b'],
    });
    expect(schedule({ containers: [], ...affinity }, [node('a')])).toEqual({
      fits: false,
      message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    });
    const gt = { key: 'rank', operator: 'Gt', values: ['5'] };
    const ranked = (rank: string) => node(`r${rank}`, { labels: { rank } });
    const term = {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [gt] }],
          },
        },
      },
    };
    expect(schedule({ containers: [], ...term }, [ranked('5'), ranked('12')])).toEqual({
      fits: true,
      nodes: ['r12'],
    });
  });

  it('respects nodeSelector, taints, tolerations, unschedulable and nodeName, sorting the reasons', () => {
    const tainted = node('t', {
      taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
    });
    const cordoned = node('c', { unschedulable: true });
    const small = node('s', { allocatable: { cpu: '100m', pods: '10' } });
    const result = schedule(requesting({ cpu: '500m' }), [tainted, cordoned, small]);
    expect(result).toEqual({
      fits: false,
      message:
        '0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable.',
    });
    const tolerating = requesting(
      {},
      { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] },
    );
    expect(schedule(tolerating, [tainted])).toEqual({ fits: true, nodes: ['t'] });
    expect(
      schedule({ containers: [], tolerations: [{ operator: 'Exists' }] }, [tainted]),
    ).toMatchObject({ fits: true });
    expect(
      schedule(
        { containers: [], nodeSelector: { 'node.kubernetes.io/instance-type': 'm5.large' } },
        [node('a')],
      ),
    ).toMatchObject({ fits: true });
    expect(schedule({ containers: [], nodeName: 'b' }, [node('a')])).toEqual({
      fits: false,
      message: "0/1 nodes are available: 1 node(s) didn't match the requested node name.",
    });
  });
});
