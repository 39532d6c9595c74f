/**
 * The standalone cluster's CNI plugin (`sgpods-ptp`), driven as a container runtime drives a
 * plugin (CNI spec 1.0.0: env, configuration on stdin, result or error object on stdout) through
 * the kubelet's runner: ADD wires a pod namespace to its node with an address of the node's
 * range, ADD and DEL are idempotent, CHECK verifies, errors carry the spec's codes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { addNamespace, linkNames } from '../../src/adapters/netns/netns.js';
import {
  cniAdd,
  cniCheck,
  cniDel,
  type CniNode,
} from '../../src/servers/kube/runtime/cni/cni-runner.js';
import { repoRoot } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

const pluginMain = join(repoRoot, 'dist/servers/kube/runtime/cni/ptp-plugin-main.js');

describe.skipIf(!isRoot)('the sgpods-ptp CNI plugin', () => {
  let home: TestHome;
  let node: CniNode;
  const ns = (suffix: string) => `${home.prefix}${suffix}`;

  const configure = (subnet: string, cniVersion = '1.0.0') => {
    writeFileSync(
      join(node.confDir, '10-test.conflist'),
      JSON.stringify({
        cniVersion,
        name: 'test',
        plugins: [{ type: 'sgpods-ptp', ipam: { subnet, dataDir: join(home.home, 'ipam') } }],
      }),
    );
  };
  const request = (suffix: string) => ({
    containerId: `container-${suffix}`,
    netns: `/run/netns/${ns(suffix)}`,
    ifname: 'eth0',
  });

  beforeAll(async () => {
    home = createTestHome();
    node = {
      namespace: ns('node'),
      confDir: join(home.home, 'net.d'),
      binDir: join(home.home, 'bin'),
    };
    mkdirSync(node.confDir, { recursive: true });
    mkdirSync(node.binDir, { recursive: true });
    writeFileSync(
      join(node.binDir, 'sgpods-ptp'),
      `#!/bin/sh\nexec ${process.execPath} ${pluginMain}\n`,
      {
        mode: 0o755,
      },
    );
    configure('10.99.0.0/24');
    for (const name of ['node', 'a', 'b', 'c']) await addNamespace(ns(name));
  });

  afterAll(async () => {
    await home.cleanup();
  });

  it('answers VERSION with the versions it supports', () => {
    const result = spawnSync(join(node.binDir, 'sgpods-ptp'), [], {
      env: { CNI_COMMAND: 'VERSION', PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      cniVersion: '1.0.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
    });
  });

  it('wires a pod to its node point-to-point, idempotently', async () => {
    const result = await cniAdd(node, request('a'));
    expect(result.ips).toEqual([{ address: '10.99.0.2/32', gateway: '169.254.1.1', interface: 1 }]);
    expect(result.cniVersion).toBe('1.0.0');
    const interfaces = result.interfaces as { name: string; sandbox?: string }[];
    expect(interfaces[1]).toMatchObject({ name: 'eth0', sandbox: `/run/netns/${ns('a')}` });
    expect(await linkNames(ns('node'))).toContain(interfaces[0]?.name);
    const routes = (await runCommand(['ip', '-n', ns('a'), 'route'])).stdout;
    expect(routes).toContain('default via 169.254.1.1 dev eth0');
    // The same ADD again keeps the same address; another container gets the next one.
    expect((await cniAdd(node, request('a'))).ips).toEqual(result.ips);
    expect((await cniAdd(node, request('b'))).ips).toEqual([
      { address: '10.99.0.3/32', gateway: '169.254.1.1', interface: 1 },
    ]);
    const ping = await runCommand(
      ['ip', 'netns', 'exec', ns('a'), 'ping', '-c1', '-W2', '10.99.0.3'],
      {
        okExitCodes: [0, 1],
      },
    );
    expect(ping.exitCode).toBe(0);
    await cniCheck(node, request('a'), result);
  });

  it('releases on DEL, twice without error, and CHECK then fails with code 7', async () => {
    await cniDel(node, request('b'));
    await cniDel(node, request('b'));
    expect((await linkNames(ns('node'))).filter((name) => name.startsWith('veth'))).toHaveLength(1);
    await expect(cniCheck(node, request('b'), {})).rejects.toMatchObject({ code: 7 });
    // The released address is handed out again.
    expect((await cniAdd(node, request('c'))).ips).toEqual([
      { address: '10.99.0.3/32', gateway: '169.254.1.1', interface: 1 },
    ]);
    await cniDel(node, request('c'));
    await cniDel(node, request('a'));
    expect((await linkNames(ns('node'))).filter((name) => name.startsWith('veth'))).toEqual([]);
  });

  it('reports an exhausted range and an unsupported version as CNI errors', async () => {
    configure('10.98.0.0/30');
    await cniAdd(node, request('a'));
    await expect(cniAdd(node, request('b'))).rejects.toMatchObject({
      code: 11,
      message: expect.stringContaining('no IP addresses available in range set: 10.98.0.0/30'),
    });
    await cniDel(node, request('a'));
    configure('10.98.0.0/30', '9.9.9');
    await expect(cniAdd(node, request('a'))).rejects.toMatchObject({
      code: 1,
      message: expect.stringContaining('incompatible CNI version 9.9.9'),
    });
  });
});
