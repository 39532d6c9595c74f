/**
 * A home per test: its own directory under the temp dir (`sgpods-test-*`, with `owner.pid` so a
 * later CI run can sweep it if this process dies), its own kernel-name prefix, and a cleanup that
 * removes every namespace carrying that prefix — also when the test failed.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteNamespace, listNamespaces } from '../../src/adapters/netns/netns.js';
import { kernelPrefix } from '../../src/core/kernel-names.js';

export interface TestHome {
  readonly home: string;
  readonly prefix: string;
  /** Namespaces of this home still present. */
  ownedNamespaces(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export function createTestHome(): TestHome {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-test-'));
  // Homes are 0755: the postgres user must traverse to its data directory.
  chmodSync(home, 0o755);
  writeFileSync(join(home, 'owner.pid'), `${process.pid}\n`);
  const prefix = kernelPrefix(home);
  const ownedNamespaces = async () =>
    (await listNamespaces()).filter((name) => name.startsWith(prefix));
  return {
    home,
    prefix,
    ownedNamespaces,
    async cleanup() {
      for (const name of await ownedNamespaces()) await deleteNamespace(name);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export const isRoot = process.getuid?.() === 0;
