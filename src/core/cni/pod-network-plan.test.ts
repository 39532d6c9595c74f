import { describe, expect, it } from 'vitest';
import { encodePodEniAnnotation } from '../policy/pod-eni-annotation.js';
import type { SecurityGroupPolicy } from '../policy/security-group-policy.js';
import {
  branchPodPlan,
  branchWiringOf,
  hasPodEniLimit,
  regularPodPlan,
} from './pod-network-plan.js';

const details = {
  eniId: 'eni-0123456789abcdef0',
  ifAddress: '02:AB:CD:00:11:22',
  privateIp: '192.168.111.7',
  ipv6Addr: '',
  vlanId: 3,
  subnetCidr: '192.168.96.0/19',
  subnetV6Cidr: '',
  associationID: 'trunk-assoc-0123456789abcdef0',
};

function pod(
  options: { limit?: boolean; annotation?: string; labels?: Record<string, string> } = {},
) {
  return {
    metadata: {
      namespace: 'sg-per-pod',
      name: 'green-pod-1',
      labels: options.labels ?? { app: 'green-pod' },
      annotations:
        options.annotation === undefined ? {} : { 'vpc.amazonaws.com/pod-eni': options.annotation },
    },
    spec: {
      serviceAccountName: 'default',
      containers: [
        {
          name: 'app',
          resources: options.limit
            ? {
                limits: { 'vpc.amazonaws.com/pod-eni': '1' },
                requests: { 'vpc.amazonaws.com/pod-eni': '1' },
              }
            : {},
        },
      ],
    },
  };
}

const policy: SecurityGroupPolicy = {
  metadata: { namespace: 'sg-per-pod', name: 'allow-rds-access' },
  spec: {
    podSelector: { matchLabels: { app: 'green-pod' } },
    securityGroups: { groupIds: ['sg-0aaa'] },
  },
};
const serviceAccount = { namespace: 'sg-per-pod', name: 'default', labels: {} };

describe('how the agent networks a pod (cni-sg.md A3)', () => {
  it('reads the pod-eni limit of the first container only, by prefix', () => {
    expect(hasPodEniLimit(pod({ limit: true }))).toBe(true);
    expect(hasPodEniLimit(pod())).toBe(false);
    expect(
      hasPodEniLimit({
        spec: {
          containers: [{}, { resources: { limits: { 'vpc.amazonaws.com/pod-eni': '1' } } }],
        },
      }),
    ).toBe(false);
  });

  it('wires a branch pod from the first ENI of its annotation, gateway = first host', () => {
    const plan = branchPodPlan(
      pod({
        limit: true,
        annotation: encodePodEniAnnotation([details, { ...details, vlanId: 9 }]),
      }),
    );
    expect(plan).toEqual({
      kind: 'branch',
      wiring: {
        eniId: details.eniId,
        vlanId: 3,
        mac: '02:ab:cd:00:11:22',
        address: '192.168.111.7',
        subnetCidr: '192.168.96.0/19',
        gateway: '192.168.96.1',
      },
    });
  });

  it('waits for the annotation with the words ipamd uses', () => {
    const plan = branchPodPlan(pod({ limit: true }));
    expect(plan.kind).toBe('wait');
    expect(plan.kind === 'wait' && plan.reason).toMatch(/^failed to get Branch ENI resource/);
  });

  it('refuses an annotation it cannot wire: no MAC, VLAN 0, no IPv4, bad subnet, empty list', () => {
    for (const broken of [
      { ...details, ifAddress: '' },
      { ...details, vlanId: 0 },
      { ...details, privateIp: '2001:db8::1' },
      { ...details, subnetCidr: 'nope' },
    ]) {
      expect(
        branchPodPlan(pod({ limit: true, annotation: encodePodEniAnnotation([broken]) })).kind,
      ).toBe('refuse');
    }
    expect(() => branchWiringOf('[]')).toThrow(/names no branch ENI/);
    expect(branchPodPlan(pod({ limit: true, annotation: '{' })).kind).toBe('refuse');
  });

  it('gives a pod no policy matches the node network', () => {
    expect(regularPodPlan({ pod: pod(), policies: [], serviceAccount: undefined })).toEqual({
      kind: 'regular',
    });
    expect(
      regularPodPlan({
        pod: pod({ labels: { app: 'red-pod' } }),
        policies: [policy],
        serviceAccount,
      }),
    ).toEqual({ kind: 'regular' });
  });

  it('refuses (fail-closed) a pod a policy matches but that has no branch ENI request', () => {
    const plan = regularPodPlan({ pod: pod(), policies: [policy], serviceAccount });
    expect(plan.kind).toBe('refuse');
    expect(plan.kind === 'refuse' && plan.reason).toContain(
      'matches SecurityGroupPolicy allow-rds-access',
    );
  });

  it('refuses when it cannot tell: policies exist but the service account does not', () => {
    const plan = regularPodPlan({ pod: pod(), policies: [policy], serviceAccount: undefined });
    expect(plan.kind === 'refuse' && plan.reason).toMatch(/serviceaccount "default" not found/);
  });
});
