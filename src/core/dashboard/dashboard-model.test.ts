import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../flows/flow-records.js';
import {
  addressIndex,
  flowView,
  groupEdges,
  type EniView,
  type Topology,
} from './dashboard-model.js';

const eni = (id: string, addresses: string[], groupIds: string[] = []): EniView => ({
  id,
  kind: 'primary',
  description: '',
  addresses,
  groupIds,
  subnetId: 'subnet-1',
});

const topology: Topology = {
  cluster: 'c',
  region: 'us-west-2',
  vpc: { id: 'vpc-1', cidr: '192.168.0.0/16' },
  subnets: [],
  nodes: [
    {
      name: 'node-a',
      instanceId: 'i-1',
      instanceType: 'm5.large',
      nodeGroup: 'ng',
      subnetId: 'subnet-1',
      ip: '192.168.7.2',
      ready: true,
      enis: [eni('eni-node', ['192.168.7.2', '192.168.27.97'])],
    },
  ],
  pods: [
    {
      ref: 'pod/ns/red',
      namespace: 'ns',
      name: 'red',
      node: 'node-a',
      ip: '192.168.27.97',
      phase: 'Running',
      network: 'node',
      policies: [],
      networkReason: '',
    },
    {
      ref: 'pod/kube-system/aws-node-x',
      namespace: 'kube-system',
      name: 'aws-node-x',
      node: 'node-a',
      ip: '192.168.7.2',
      phase: 'Running',
      network: 'host',
      policies: [],
      networkReason: '',
    },
  ],
  databases: [
    {
      ref: 'rds/db',
      identifier: 'db',
      engine: 'postgres',
      status: 'available',
      endpoint: 'db.example',
      port: 5432,
      subnetId: 'subnet-1',
      eni: eni('eni-db', ['192.168.22.4']),
    },
  ],
  instances: [],
  otherEnis: [{ ...eni('eni-eks', ['192.168.105.189']), description: 'Amazon EKS c' }],
  groups: [],
  edges: [],
};

describe('the dashboard model', () => {
  it('merges group references per pair and direction, one edge per pair, traffic listed once', () => {
    const rule = (traffic: string, peerGroupId?: string) => ({
      traffic,
      peer: peerGroupId ?? '0.0.0.0/0',
      ...(peerGroupId ? { peerGroupId } : {}),
    });
    const edges = groupEdges([
      {
        id: 'sg-node',
        name: 'node',
        description: '',
        ingress: [
          rule('tcp 53', 'sg-pod'),
          rule('udp 53', 'sg-pod'),
          rule('tcp 53', 'sg-pod'),
          rule('tcp 22'),
        ],
        egress: [rule('all traffic')],
      },
      {
        id: 'sg-pod',
        name: 'pod',
        description: '',
        ingress: [],
        egress: [rule('tcp 443', 'sg-node')],
      },
    ]);
    expect(edges).toEqual([
      { from: 'sg-pod', to: 'sg-node', direction: 'ingress', traffic: 'tcp 53, udp 53' },
      { from: 'sg-pod', to: 'sg-node', direction: 'egress', traffic: 'tcp 443' },
    ]);
  });

  it("names a flow's ends: a pod before the node ENI holding its address, hostNetwork pods as their node", () => {
    const index = addressIndex(topology);
    const record: FlowRecord = {
      version: 2,
      accountId: '123456789012',
      interfaceId: 'eni-db',
      source: '192.168.27.97',
      destination: '192.168.22.4',
      sourcePort: 40000,
      destinationPort: 5432,
      protocol: 6,
      packets: 1,
      bytes: 60,
      start: 1,
      end: 2,
      action: 'REJECT',
      logStatus: 'OK',
    };
    const view = flowView(record, index, { sequence: 7, readAt: 1000 });
    expect(view).toMatchObject({
      sequence: 7,
      readAt: 1000,
      protocol: 'tcp',
      action: 'REJECT',
      source: { address: '192.168.27.97', port: 40000, ref: 'pod/ns/red', label: 'ns/red' },
      destination: { address: '192.168.22.4', port: 5432, ref: 'rds/db', label: 'rds/db' },
    });
    expect(index.get('192.168.7.2')).toEqual({ ref: 'node/node-a', label: 'node node-a' });
    expect(index.get('192.168.105.189')).toEqual({ ref: 'eni-eks', label: 'Amazon EKS c' });
    const outside = flowView({ ...record, destination: '8.8.8.8', protocol: 17 }, index, {
      sequence: 8,
      readAt: 0,
    });
    expect(outside.destination).toEqual({ address: '8.8.8.8', port: 5432, label: '8.8.8.8' });
    expect(outside.protocol).toBe('udp');
  });
});
