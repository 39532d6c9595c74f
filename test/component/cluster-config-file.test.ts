/** eksctl ClusterConfig files as `sgpods up -f` reads them: YAML, defaults, errors naming the file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readClusterConfig } from '../../src/adapters/eks/cluster-config-file.js';

describe('ClusterConfig files', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sgpods-cluster-config-'));
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('reads the workshop-style file eksctl users write', () => {
    const path = join(folder, 'cluster.yaml');
    writeFileSync(
      path,
      `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: eksworkshop-eksctl
  region: us-west-2
  version: "1.32"
managedNodeGroups:
- name: nodegroup-sec-group
  desiredCapacity: 1
  instanceType: m5.large
  labels: {role: sgp}
`,
    );
    const config = readClusterConfig(path);
    expect(config.version).toBe('1.32');
    expect(config.nodeGroups).toEqual([
      expect.objectContaining({
        name: 'nodegroup-sec-group',
        instanceType: 'm5.large',
        desiredCapacity: 1,
      }),
    ]);
  });

  it('names the file in every error', () => {
    expect(() => readClusterConfig(join(folder, 'absent.yaml'))).toThrow(
      `reading config file "${join(folder, 'absent.yaml')}": open ${join(folder, 'absent.yaml')}: no such file or directory`,
    );
    const broken = join(folder, 'broken.yaml');
    writeFileSync(broken, 'metadata: [unclosed\n');
    expect(() => readClusterConfig(broken)).toThrow(`couldn't parse config file "${broken}"`);
  });
});
