import { describe, expect, it } from 'vitest';
import { clusterConfigFrom, workshopClusterConfig } from './cluster-config.js';

const base = {
  apiVersion: 'eksctl.io/v1alpha5',
  kind: 'ClusterConfig',
  metadata: { name: 'lab', region: 'eu-west-1' },
};

describe('eksctl ClusterConfig', () => {
  it("reads node groups with eksctl's defaults", () => {
    const config = clusterConfigFrom(
      {
        ...base,
        managedNodeGroups: [
          { name: 'ng-sgp', instanceType: 'm5.large', desiredCapacity: 1, labels: { role: 'sgp' } },
        ],
        nodeGroups: [{ name: 'self', taints: { dedicated: 'db:NoSchedule' } }],
      },
      'cluster.yaml',
    );
    expect(config).toEqual({
      name: 'lab',
      region: 'eu-west-1',
      version: '1.32',
      vpcCidr: '192.168.0.0/16',
      nodeGroups: [
        {
          name: 'ng-sgp',
          managed: true,
          instanceType: 'm5.large',
          desiredCapacity: 1,
          minSize: 1,
          maxSize: 2,
          labels: { role: 'sgp' },
          taints: [],
        },
        {
          name: 'self',
          managed: false,
          instanceType: 'm5.large',
          desiredCapacity: 2,
          minSize: 2,
          maxSize: 2,
          labels: {},
          taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
        },
      ],
    });
    expect(workshopClusterConfig.nodeGroups[0]).toMatchObject({
      instanceType: 't3.large',
      desiredCapacity: 2,
    });
  });

  it('refuses what eksctl refuses, naming the file and the field', () => {
    const refused = (document: unknown) => () => clusterConfigFrom(document, 'cluster.yaml');
    expect(refused({ ...base, metadat: {} })).toThrow(
      'couldn\'t parse config file "cluster.yaml": error unmarshaling JSON: while decoding JSON: json: unknown field "metadat"',
    );
    expect(refused({ ...base, apiVersion: 'eksctl.io/v1alpha4' })).toThrow(
      'unsupported apiVersion "eksctl.io/v1alpha4"',
    );
    expect(refused({ ...base, kind: 'NodeGroup' })).toThrow('unsupported kind "NodeGroup"');
    expect(refused({ ...base, metadata: { region: 'us-west-2' } })).toThrow(
      'metadata.name must be set',
    );
    expect(
      refused({ ...base, managedNodeGroups: [{ name: 'a', instanceType: 't9.huge' }] }),
    ).toThrow('managedNodeGroups[0]: unknown instance type "t9.huge"');
    expect(
      refused({ ...base, managedNodeGroups: [{ name: 'a', instanceTyp: 'm5.large' }] }),
    ).toThrow('unknown field "instanceTyp"');
    expect(
      refused({ ...base, managedNodeGroups: [{ name: 'a', desiredCapacity: 5, maxSize: 3 }] }),
    ).toThrow('the desired capacity must lie between the minimum and the maximum');
    expect(
      refused({
        ...base,
        managedNodeGroups: [{ name: 'a', taints: [{ key: 'k', value: 'v', effect: 'Never' }] }],
      }),
    ).toThrow('invalid taint effect: "Never" for taint key "k"');
    expect(
      refused({ ...base, managedNodeGroups: [{ name: 'a' }], nodeGroups: [{ name: 'a' }] }),
    ).toThrow('node group names must be unique: "a" is used twice');
    expect(refused({ ...base, vpc: { cidr: '10.0.0.0/8' } })).toThrow(
      'must be an IPv4 CIDR between /16 and /24',
    );
    expect(refused('just text')).toThrow('the document must be an object');
  });
});
