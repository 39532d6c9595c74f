/**
 * A @kubernetes/client-node 1.x informer against the local API server: it lists, watches from
 * the list's resourceVersion, and sees every change — also across a restart of the server on the
 * same home and port (the watch ends, the informer re-watches from its last resourceVersion and
 * the server replays from its history).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../../src/servers/kube/kube-api-server.js';
import { waitFor } from '../support/wait-for.js';

describe('a client-node informer', () => {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-kube-informer-'));
  let server: KubeApiServer | undefined;

  afterAll(async () => {
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('sees every change, across a restart of the server', async () => {
    server = await startKubeApiServer({ home });
    const port = server.port;
    const config = new KubeConfig();
    config.loadFromFile(server.kubeconfigPath);
    const core = config.makeApiClient(CoreV1Api);
    const create = (name: string) =>
      core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name }, data: { at: name } },
      });
    await create('before');
    const seen = new Map<string, string>();
    const informer = makeInformer(config, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const record = (type: string) => (object: V1ConfigMap) => {
      seen.set(object.metadata?.name ?? '', type);
    };
    informer.on('add', record('add'));
    informer.on('update', record('update'));
    informer.on('delete', record('delete'));
    // As client-node asks of its users: an informer stops on a failed watch (the server is
    // down for a moment while it restarts) and is started again; it relists and re-watches.
    let stopped = false;
    informer.on('error', () => {
      if (stopped) return;
      setTimeout(() => {
        if (!stopped) void informer.start().catch(() => undefined);
      }, 200);
    });
    await informer.start();
    try {
      await waitFor(() => seen.get('before') === 'add', {
        timeoutMs: 20_000,
        what: 'the listed object',
      });
      await create('live');
      await waitFor(() => seen.get('live') === 'add', {
        timeoutMs: 20_000,
        what: 'a live addition',
      });
      // client-node sends a JSON patch by default.
      await core.patchNamespacedConfigMap({
        namespace: 'default',
        name: 'live',
        body: [{ op: 'replace', path: '/data/at', value: 'changed' }],
      });
      await waitFor(() => seen.get('live') === 'update', { timeoutMs: 20_000, what: 'an update' });

      await server.close();
      server = await startKubeApiServer({ home, port });
      const restarted = config.makeApiClient(CoreV1Api);
      await restarted.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'after' } },
      });
      await restarted.deleteNamespacedConfigMap({ namespace: 'default', name: 'before' });
      await waitFor(() => seen.get('after') === 'add' && seen.get('before') === 'delete', {
        timeoutMs: 30_000,
        what: 'changes made after the restart',
      });
      expect(
        informer
          .list('default')
          .map((item) => item.metadata?.name)
          .sort(),
      ).toEqual(['after', 'live']);
    } finally {
      stopped = true;
      await informer.stop();
    }
  });

  it('relists when its resourceVersion has left the history (410), then keeps watching', async () => {
    await server?.close();
    server = await startKubeApiServer({ home, historySize: 5 });
    const config = new KubeConfig();
    config.loadFromFile(server.kubeconfigPath);
    const core = config.makeApiClient(CoreV1Api);
    const seen = new Set<string>();
    let lists = 0;
    const informer = makeInformer(config, '/api/v1/namespaces/kube-public/configmaps', () => {
      lists += 1;
      return core.listNamespacedConfigMap({ namespace: 'kube-public' });
    });
    informer.on('add', (object: V1ConfigMap) => seen.add(object.metadata?.name ?? ''));
    await informer.start();
    try {
      // Writes elsewhere push the informer's resourceVersion out of the history...
      for (let index = 0; index < 8; index++) {
        await core.createNamespacedConfigMap({
          namespace: 'default',
          body: { metadata: { name: `filler-${index}` } },
        });
      }
      // ...and its watch ends: it re-watches from that version, gets 410, relists, watches on.
      server.endWatches();
      await core.createNamespacedConfigMap({
        namespace: 'kube-public',
        body: { metadata: { name: 'seen-after-relist' } },
      });
      await waitFor(() => seen.has('seen-after-relist'), {
        timeoutMs: 30_000,
        what: 'the informer to relist and see the new object',
      });
      // The 410 made it list again (a replayed watch would not have).
      expect(lists).toBe(2);
    } finally {
      await informer.stop();
    }
  });
});
