/**
 * Crash safety: a router process builds a change and is killed (SIGKILL) before applying it.
 * A restarted router, given the desired state, resyncs: the kernel then holds exactly the
 * desired ruleset (nothing of the old world leaked, nothing missing), and traffic follows it.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listNftTable } from '../../src/adapters/nft/nft.js';
import { compileRouterRuleset } from '../../src/core/dataplane/compile-ruleset.js';
import { readRulesetListing } from '../../src/core/dataplane/nft-listing.js';
import { routerTable, VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import {
  crashGroups,
  crashWorldGroups,
  type CrashChildInput,
} from '../support/router-crash-world.js';
import { ip, RouterFixture, subnet } from '../support/router-fixture.js';
import { repoRoot } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

async function runChildUntilBuilt(input: CrashChildInput): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/router-crash-child.ts', JSON.stringify(input)],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const built = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited ${String(code)} before building`)));
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    expect(await built).toMatch(/^built \d+ lines$/);
  } finally {
    clearTimeout(deadline);
    child.kill('SIGKILL');
    await exited;
  }
}

describe.skipIf(!isRoot)('router crash between building and applying a change', () => {
  let home: TestHome;
  let fixture: RouterFixture;

  beforeEach(async () => {
    home = createTestHome();
    fixture = await RouterFixture.start(home, crashWorldGroups('before'));
    await fixture.addHost('db', '10.0.9.9', [crashGroups.db]);
    await fixture.addHost('client', '10.0.1.1', [crashGroups.gone]);
  });

  afterEach(async () => {
    await fixture.stop();
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  it('restarts, resyncs to the desired state, and leaks nothing', async () => {
    const hosts = [
      {
        ...fixture.host('db'),
        groupIds: [crashGroups.db],
        groupIdsAfter: [crashGroups.db, crashGroups.added],
      },
      { ...fixture.host('client'), groupIds: [crashGroups.gone], groupIdsAfter: [crashGroups.app] },
    ].map(({ eniId, namespace, address, groupIds, groupIdsAfter }) => ({
      eniId,
      hostNamespace: namespace,
      networkInterfaceId: eniId,
      address,
      groupIds,
      groupIdsAfter,
    }));
    await runChildUntilBuilt({ prefix: home.prefix, namespace: fixture.router.namespace, hosts });

    // The crash left the kernel as it was: the client is not yet allowed in.
    await fixture.host('db').probe.request('listen', { proto: 'tcp', port: 5432, family: 4 });
    expect(await fixture.tcp('client', 'db', 5432, { timeoutMs: 400 })).toBe(false);

    const restarted = await VpcRouter.open({
      prefix: home.prefix,
      namespace: fixture.router.namespace,
    });
    restarted.setGroups(crashWorldGroups('after'));
    for (const host of hosts) {
      restarted.adoptInterface({
        ...host,
        hostInterface: 'eth0',
        addresses: [ip(host.address)],
        subnet,
        groupIds: host.groupIdsAfter,
      });
    }
    expect(await restarted.pendingPlan()).not.toBe('');
    await restarted.resync();
    expect(await restarted.pendingPlan()).toBe('');

    const kernel = readRulesetListing(
      await listNftTable(restarted.namespace, routerTable),
      routerTable,
    );
    const desired = compileRouterRuleset({
      table: routerTable,
      groups: crashWorldGroups('after'),
      ports: hosts.map((host) => ({
        portName: restarted.portNameOf(host.eniId),
        kind: 'eni' as const,
        addresses: [ip(host.address)],
        groupIds: host.groupIdsAfter,
        sourceDestCheck: true,
      })),
    });
    expect([...(kernel?.chains.keys() ?? [])].sort()).toEqual([...desired.chains.keys()].sort());
    expect([...(kernel?.sets.keys() ?? [])].sort()).toEqual([...desired.sets.keys()].sort());
    expect([...(kernel?.counters ?? [])].sort()).toEqual([...desired.counters].sort());
    expect([...(kernel?.chains.keys() ?? [])].some((name) => name.includes(crashGroups.gone))).toBe(
      false,
    );

    expect(await fixture.tcp('client', 'db', 5432)).toBe(true);
    await restarted.close();
  });
});
