/**
 * The API server's storage on a real SQLite file: the global resourceVersion, optimistic
 * concurrency, watch history and its expiry, listeners after commit, and a random sequence of
 * writes checked against a plain model (with reopening the file in between).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KubeStore,
  StorageConflict,
  type Change,
  type KubeObject,
} from '../../src/servers/kube/storage/kube-store.js';

const directories: string[] = [];
function storePath(): string {
  const directory = mkdtempSync(join(tmpdir(), 'sgpods-kube-store-'));
  directories.push(directory);
  return join(directory, 'kube.sqlite');
}

afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

const configMap = (name: string, value: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { value },
});

function reasonOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    if (error instanceof StorageConflict) return error.reason;
    throw error;
  }
  return 'none';
}

describe('the API server storage', () => {
  it('stamps objects and bumps one global resourceVersion on every write', () => {
    const store = KubeStore.open(storePath());
    const a = store.create('/configmaps', 'default', 'a', configMap('a', '1'));
    const ns = store.create('/namespaces', '', 'team', { kind: 'Namespace', metadata: {} });
    expect(a.metadata).toMatchObject({
      name: 'a',
      namespace: 'default',
      resourceVersion: '1',
      generation: 1,
    });
    expect(a.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata?.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(ns.metadata?.resourceVersion).toBe('2');
    expect(ns.metadata?.namespace).toBeUndefined();
    const updated = store.update('/configmaps', 'default', 'a', configMap('a', '2'), '1');
    expect(updated.metadata).toMatchObject({ resourceVersion: '3', uid: a.metadata?.uid });
    expect(store.list('/configmaps')).toMatchObject({
      resourceVersion: 3,
      items: [{ data: { value: '2' } }],
    });
    store.close();
  });

  it('refuses duplicates, stale versions and missing objects, writing nothing', () => {
    const store = KubeStore.open(storePath());
    store.create('/configmaps', 'default', 'a', configMap('a', '1'));
    expect(reasonOf(() => store.create('/configmaps', 'default', 'a', configMap('a', 'x')))).toBe(
      'AlreadyExists',
    );
    expect(
      reasonOf(() => store.update('/configmaps', 'default', 'a', configMap('a', 'x'), '7')),
    ).toBe('Conflict');
    expect(reasonOf(() => store.update('/configmaps', 'default', 'b', configMap('b', 'x')))).toBe(
      'NotFound',
    );
    expect(reasonOf(() => store.delete('/configmaps', 'default', 'b'))).toBe('NotFound');
    expect(store.currentResourceVersion()).toBe(1);
    expect(store.changesSince(0)).toHaveLength(1);
    store.close();
  });

  it('replays changes after a resourceVersion, and expires those beyond its history', () => {
    const store = KubeStore.open(storePath(), { historySize: 5 });
    const heard: Change[] = [];
    store.subscribe((change) => heard.push(change));
    for (let index = 0; index < 8; index++) {
      store.create('/configmaps', 'default', `c${index}`, configMap(`c${index}`, 'v'));
    }
    store.delete('/configmaps', 'default', 'c0');
    expect(heard.map((change) => change.type)).toEqual([
      ...Array<string>(8).fill('ADDED'),
      'DELETED',
    ]);
    const latest = store.currentResourceVersion();
    expect(store.changesSince(latest)).toEqual([]);
    const recent = store.changesSince(latest - 2);
    expect(recent !== 'expired' && recent.map((change) => change.name)).toEqual(['c7', 'c0']);
    expect(store.changesSince(1)).toBe('expired');
    // The resourceVersion a list returns can always be watched from.
    expect(store.changesSince(store.list('/configmaps').resourceVersion)).toEqual([]);
    store.close();
  });

  it('matches a plain model over random writes, across reopening the file', () => {
    const path = storePath();
    const operation = fc.record({
      kind: fc.constantFrom('create', 'update', 'delete', 'reopen'),
      name: fc.constantFrom('a', 'b', 'c'),
      value: fc.string({ maxLength: 4 }),
      stale: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
        rmSync(path, { force: true });
        rmSync(`${path}-wal`, { force: true });
        rmSync(`${path}-shm`, { force: true });
        let store = KubeStore.open(path);
        const model = new Map<string, { value: string; rv: string }>();
        let version = 0;
        for (const op of operations) {
          if (op.kind === 'reopen') {
            store.close();
            store = KubeStore.open(path);
            continue;
          }
          const current = model.get(op.name);
          const expected = op.stale ? '0' : current?.rv;
          const outcome = reasonOf(() => {
            if (op.kind === 'create')
              store.create('/configmaps', 'default', op.name, configMap(op.name, op.value));
            else if (op.kind === 'update')
              store.update(
                '/configmaps',
                'default',
                op.name,
                configMap(op.name, op.value),
                expected,
              );
            else store.delete('/configmaps', 'default', op.name, expected);
          });
          const wanted =
            op.kind === 'create'
              ? current
                ? 'AlreadyExists'
                : 'none'
              : !current
                ? 'NotFound'
                : op.stale
                  ? 'Conflict'
                  : 'none';
          expect(outcome).toBe(wanted);
          if (outcome !== 'none') continue;
          version += 1;
          if (op.kind === 'delete') model.delete(op.name);
          else model.set(op.name, { value: op.value, rv: String(version) });
        }
        const listed = store.list('/configmaps', 'default');
        expect(listed.resourceVersion).toBe(version);
        expect(
          listed.items.map((item) => [
            item.metadata?.name,
            (item.data as { value: string }).value,
            item.metadata?.resourceVersion,
          ]),
        ).toEqual(
          [...model]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, entry]) => [name, entry.value, entry.rv]),
        );
        store.close();
      }),
      { numRuns: 60 },
    );
  });
});
