/**
 * `sgpods down` removes exactly its home's namespaces and the processes in them, and nothing of
 * another home; it is idempotent; `--purge` removes the state.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { addNamespace, listNamespaces } from '../../src/adapters/netns/netns.js';
import { eventually } from '../support/netns-probe.js';
import { runCli } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

describe.skipIf(!isRoot)('sgpods down', () => {
  const homes: TestHome[] = [];
  afterEach(async () => {
    for (const home of homes.splice(0)) await home.cleanup();
  });

  it('removes its own namespaces and their processes, and no one else’s', async () => {
    const mine = createTestHome();
    const other = createTestHome();
    homes.push(mine, other);
    await addNamespace(`${mine.prefix}a`);
    await addNamespace(`${mine.prefix}b`);
    await addNamespace(`${other.prefix}a`);
    const sleeper = spawn('ip', ['netns', 'exec', `${mine.prefix}a`, 'sleep', '600'], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));

    const result = runCli(['down', '--home', mine.home]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/removed 2 namespace\(s\), stopped 1 process\(es\)/);
    await exited;
    expect(await mine.ownedNamespaces()).toEqual([]);
    expect(await other.ownedNamespaces()).toEqual([`${other.prefix}a`]);

    expect(runCli(['down', '--home', mine.home]).stdout).toMatch(/removed 0 namespace/);
    expect(runCli(['down', '--home', mine.home, '--purge']).code).toBe(0);
    expect(existsSync(mine.home)).toBe(false);
    expect(
      await eventually(
        async () => !(await listNamespaces()).some((n) => n.startsWith(mine.prefix)),
        5000,
      ),
    ).toBe(true);
  });
});
