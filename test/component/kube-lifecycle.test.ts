/**
 * Object lifecycles the API server runs by itself: namespace finalisation (403 for new content
 * while Terminating), finalizers, garbage collection by ownerReferences (background, foreground,
 * orphan, and after a restart), deletecollection, the status subresource and generation (enough
 * for `kubectl rollout status`), bookmarks, Table columns of the built-in kinds, protobuf
 * Deployments from `kubectl create deployment`, and 422s for invalid built-ins.
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeStore } from '../../src/servers/kube/storage/kube-store.js';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

type Json = Record<string, unknown>;

describe('object lifecycles', () => {
  let fixture: KubeFixture;
  const post = (path: string, object: Json) =>
    fixture.call('POST', path, { body: JSON.stringify(object) });
  const get = (path: string) => fixture.call('GET', path);
  const mergePatch = (path: string, patch: Json) =>
    fixture.call('PATCH', path, {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify(patch),
    });
  const configMap = (namespace: string, name: string, metadata: Json = {}) =>
    post(`/api/v1/namespaces/${namespace}/configmaps`, { metadata: { name, ...metadata } });
  const uidOf = (body: Json) => String((body.metadata as Json).uid);
  const ownedBy = (owner: Json) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: (owner.metadata as Json).name,
    uid: uidOf(owner),
  });

  beforeAll(async () => {
    fixture = await startKubeFixture({ bookmarkIntervalMs: 100 });
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('finalises a namespace: Terminating, no new content, gone when the last object goes', async () => {
    await post('/api/v1/namespaces', { metadata: { name: 'held' } });
    await configMap('held', 'holder', { finalizers: ['example.com/hold'] });
    await configMap('held', 'plain');
    const deleted = await fixture.call('DELETE', '/api/v1/namespaces/held', {
      body: '{"propagationPolicy":"Background"}',
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ status: { phase: 'Terminating' } });
    await waitFor(
      async () => (await get('/api/v1/namespaces/held/configmaps/plain')).status === 404,
      {
        timeoutMs: 10_000,
        what: 'the plain config map to go',
      },
    );
    const holder = await get('/api/v1/namespaces/held/configmaps/holder');
    expect((holder.body.metadata as Json).deletionTimestamp).toEqual(expect.any(String));
    const refused = await configMap('held', 'late');
    expect(refused).toMatchObject({
      status: 403,
      body: {
        reason: 'Forbidden',
        message:
          'configmaps "late" is forbidden: unable to create new content in namespace held because it is being terminated',
      },
    });
    expect((await get('/api/v1/namespaces/held')).body).toMatchObject({
      status: { phase: 'Terminating' },
    });
    await mergePatch('/api/v1/namespaces/held/configmaps/holder', {
      metadata: { finalizers: null },
    });
    await waitFor(async () => (await get('/api/v1/namespaces/held')).status === 404, {
      timeoutMs: 10_000,
      what: 'the namespace to go',
    });
  });

  it('collects garbage in the background, in the foreground, and orphans on request', async () => {
    const owner = (await configMap('default', 'owner')).body;
    const other = (await configMap('default', 'other')).body;
    await configMap('default', 'only-child', { ownerReferences: [ownedBy(owner)] });
    await configMap('default', 'shared-child', {
      ownerReferences: [ownedBy(owner), ownedBy(other)],
    });
    await fixture.call('DELETE', '/api/v1/namespaces/default/configmaps/owner');
    await waitFor(
      async () => (await get('/api/v1/namespaces/default/configmaps/only-child')).status === 404,
      {
        timeoutMs: 10_000,
        what: 'the only child to be collected',
      },
    );
    const shared = await get('/api/v1/namespaces/default/configmaps/shared-child');
    expect((shared.body.metadata as Json).ownerReferences).toEqual([ownedBy(other)]);

    const parent = (await configMap('default', 'parent')).body;
    await configMap('default', 'slow-child', {
      ownerReferences: [ownedBy(parent)],
      finalizers: ['example.com/hold'],
    });
    const foreground = await fixture.call(
      'DELETE',
      '/api/v1/namespaces/default/configmaps/parent',
      {
        body: '{"propagationPolicy":"Foreground"}',
      },
    );
    expect((foreground.body.metadata as Json).finalizers).toEqual(['foregroundDeletion']);
    await waitFor(
      async () =>
        Boolean(
          ((await get('/api/v1/namespaces/default/configmaps/slow-child')).body.metadata as Json)
            .deletionTimestamp,
        ),
      { timeoutMs: 10_000, what: 'the child to be deleted first' },
    );
    expect((await get('/api/v1/namespaces/default/configmaps/parent')).status).toBe(200);
    await mergePatch('/api/v1/namespaces/default/configmaps/slow-child', {
      metadata: { finalizers: null },
    });
    await waitFor(
      async () => (await get('/api/v1/namespaces/default/configmaps/parent')).status === 404,
      {
        timeoutMs: 10_000,
        what: 'the parent to go after its child',
      },
    );

    const keeper = (await configMap('default', 'keeper')).body;
    await configMap('default', 'orphan', { ownerReferences: [ownedBy(keeper)] });
    await fixture.call('DELETE', '/api/v1/namespaces/default/configmaps/keeper', {
      body: '{"propagationPolicy":"Orphan"}',
    });
    await waitFor(
      async () => (await get('/api/v1/namespaces/default/configmaps/keeper')).status === 404,
      {
        timeoutMs: 10_000,
        what: 'the orphaning owner to go',
      },
    );
    const orphan = await get('/api/v1/namespaces/default/configmaps/orphan');
    expect(orphan.status).toBe(200);
    expect((orphan.body.metadata as Json).ownerReferences).toBeUndefined();
    const badPolicy = await fixture.call('DELETE', '/api/v1/namespaces/default/configmaps/orphan', {
      body: '{"propagationPolicy":"Sometimes"}',
    });
    expect(badPolicy).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
  });

  it('deletes a collection by label, and answers preconditions with Conflict', async () => {
    await configMap('default', 'team-a-1', { labels: { team: 'a' } });
    await configMap('default', 'team-a-2', { labels: { team: 'a' } });
    await configMap('default', 'team-b-1', { labels: { team: 'b' } });
    const deleted = await fixture.call(
      'DELETE',
      '/api/v1/namespaces/default/configmaps?labelSelector=team%3Da',
    );
    expect(deleted.status).toBe(200);
    expect((deleted.body.items as Json[]).map((item) => (item.metadata as Json).name)).toEqual([
      'team-a-1',
      'team-a-2',
    ]);
    const left = await get('/api/v1/namespaces/default/configmaps?labelSelector=team');
    expect((left.body.items as Json[]).map((item) => (item.metadata as Json).name)).toEqual([
      'team-b-1',
    ]);
    const stale = await fixture.call('DELETE', '/api/v1/namespaces/default/configmaps/team-b-1', {
      body: '{"preconditions":{"uid":"not-the-uid"}}',
    });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
  });

  it('collects the dependents of an owner deleted while the server was down', async () => {
    const owner = (await configMap('default', 'gone-owner')).body;
    await configMap('default', 'left-child', { ownerReferences: [ownedBy(owner)] });
    await fixture.restart(() => {
      const store = KubeStore.open(`${fixture.home}/kube.sqlite`);
      store.delete('/configmaps', 'default', 'gone-owner');
      store.close();
    });
    await waitFor(
      async () => (await get('/api/v1/namespaces/default/configmaps/left-child')).status === 404,
      {
        timeoutMs: 10_000,
        what: 'the dependent to be collected after the restart',
      },
    );
  });

  it('keeps status and spec apart, and rollout status follows generation and status', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'green' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'green' } },
        template: {
          metadata: { labels: { app: 'green' } },
          spec: { containers: [{ name: 'green', image: 'sgpods/demo:1' }] },
        },
      },
      status: { replicas: 5 },
    };
    const created = await post('/apis/apps/v1/namespaces/default/deployments', deployment);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      metadata: { generation: 1 },
      spec: {
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
        },
        template: {
          spec: { restartPolicy: 'Always', containers: [{ imagePullPolicy: 'IfNotPresent' }] },
        },
      },
      status: {},
    });
    const path = '/apis/apps/v1/namespaces/default/deployments/green';
    const rollout = fixture.kubectl(['rollout', 'status', 'deployment/green', '--timeout=30s']);
    const status = {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    };
    const statusWrite = await fixture.call('PATCH', `${path}/status`, {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ status, spec: { replicas: 9 } }),
    });
    expect(statusWrite.body).toMatchObject({
      spec: { replicas: 2 },
      status,
      metadata: { generation: 1 },
    });
    const result = await rollout;
    expect(result.stdout).toContain('deployment "green" successfully rolled out');
    const scaled = await mergePatch(path, { spec: { replicas: 3 }, status: { replicas: 0 } });
    expect(scaled.body).toMatchObject({
      spec: { replicas: 3 },
      status,
      metadata: { generation: 2 },
    });
    const labelled = await mergePatch(path, { metadata: { labels: { tier: 'web' } } });
    expect(labelled.body).toMatchObject({ metadata: { generation: 2, labels: { tier: 'web' } } });
    expect((await fixture.kubectl(['get', 'deploy', 'green'])).stdout).toMatch(
      /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\ngreen\s+2\/3\s+2\s+2\s+\d+s\n$/,
    );
  });

  it('binds pods through pods/binding once, with the PodScheduled condition', async () => {
    await post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'to-bind' },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    });
    const binding = (node: string) =>
      post('/api/v1/namespaces/default/pods/to-bind/binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'to-bind' },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
    const bound = await binding('node-a');
    expect(bound.status).toBe(201);
    expect(bound.body).toMatchObject({ kind: 'Status', status: 'Success', code: 201 });
    const pod = (await get('/api/v1/namespaces/default/pods/to-bind')).body;
    expect((pod.spec as Json).nodeName).toBe('node-a');
    expect((pod.status as Json).conditions).toEqual([
      expect.objectContaining({ type: 'PodScheduled', status: 'True' }),
    ]);
    const again = await binding('node-b');
    expect(again.status).toBe(409);
    expect(again.body.message).toBe(
      'Operation cannot be fulfilled on pods/binding "to-bind": pod to-bind is already assigned to node "node-a"',
    );
    const empty = await post('/api/v1/namespaces/default/pods/to-bind/binding', { target: {} });
    expect(empty.status).toBe(422);
    await fixture.call('DELETE', '/api/v1/namespaces/default/pods/to-bind');
  });

  it('deletes a running pod gracefully on an existing node, at once elsewhere', async () => {
    await post('/api/v1/nodes', { metadata: { name: 'grace-node' } });
    const pod = (name: string, nodeName: string) =>
      post('/api/v1/namespaces/default/pods', {
        metadata: { name },
        spec: {
          nodeName,
          terminationGracePeriodSeconds: 20,
          containers: [{ name: 'app', image: 'busybox' }],
        },
      });
    await pod('graceful', 'grace-node');
    const marked = await fixture.call('DELETE', '/api/v1/namespaces/default/pods/graceful');
    expect(marked.status).toBe(200);
    const metadata = marked.body.metadata as Json;
    expect(metadata.deletionGracePeriodSeconds).toBe(20);
    const deadline = Date.parse(String(metadata.deletionTimestamp)) - Date.now();
    expect(deadline).toBeGreaterThan(15_000);
    expect(deadline).toBeLessThanOrEqual(21_000);
    // The kubelet's status updates keep it; a shorter grace period wins; 0 removes it.
    await mergePatch('/api/v1/namespaces/default/pods/graceful/status', {
      status: { phase: 'Running' },
    });
    expect((await get('/api/v1/namespaces/default/pods/graceful')).status).toBe(200);
    const shorter = await fixture.call('DELETE', '/api/v1/namespaces/default/pods/graceful', {
      body: JSON.stringify({ gracePeriodSeconds: 5 }),
    });
    expect((shorter.body.metadata as Json).deletionGracePeriodSeconds).toBe(5);
    const bad = await fixture.call(
      'DELETE',
      '/api/v1/namespaces/default/pods/graceful?gracePeriodSeconds=soon',
    );
    expect(bad.status).toBe(400);
    await fixture.call('DELETE', '/api/v1/namespaces/default/pods/graceful', {
      body: JSON.stringify({ gracePeriodSeconds: 0 }),
    });
    expect((await get('/api/v1/namespaces/default/pods/graceful')).status).toBe(404);
    // No such node (the pod garbage collector's case): gone at once.
    await pod('orphaned', 'no-such-node');
    await fixture.call('DELETE', '/api/v1/namespaces/default/pods/orphaned');
    expect((await get('/api/v1/namespaces/default/pods/orphaned')).status).toBe(404);
    await fixture.call('DELETE', '/api/v1/nodes/grace-node');
  });

  it('sends bookmarks to watches that allow them', async () => {
    const lines = await new Promise<string[]>((resolve, reject) => {
      const collected: string[] = [];
      const request = httpsRequest(
        `${fixture.server.url}/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${fixture.server.store.currentResourceVersion()}`,
        { ca: fixture.ca, headers: { Authorization: `Bearer ${fixture.token}` } },
        (response) => {
          response.on('data', (chunk: Buffer) => {
            collected.push(...chunk.toString().split('\n').filter(Boolean));
            if (collected.length > 0) {
              request.destroy();
              resolve(collected);
            }
          });
        },
      );
      request.on('error', (error) => {
        if (collected.length === 0) reject(error);
      });
      request.end();
    });
    const event = JSON.parse(lines[0] ?? '{}') as Json;
    expect(event).toMatchObject({
      type: 'BOOKMARK',
      object: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { resourceVersion: expect.stringMatching(/^\d+$/) as unknown },
      },
    });
  });

  it('prints the columns of the built-in kinds', async () => {
    await post('/api/v1/nodes', {
      metadata: {
        name: 'ip-10-0-1-10.ec2.internal',
        labels: {
          'node.kubernetes.io/instance-type': 'm5.large',
          'node-role.kubernetes.io/worker': '',
        },
      },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: '10.0.1.10' }],
        nodeInfo: {
          kubeletVersion: 'v1.32.0',
          osImage: 'Debian GNU/Linux 12',
          kernelVersion: '6.1.0',
          containerRuntimeVersion: 'sgpods://0.1.0',
        },
      },
    });
    const nodes = await fixture.kubectl([
      'get',
      'nodes',
      '--selector',
      'node.kubernetes.io/instance-type=m5.large',
      '--show-labels',
    ]);
    expect(nodes.stdout).toMatch(
      /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+LABELS\nip-10-0-1-10\.ec2\.internal\s+Ready\s+worker\s+\d+s\s+v1\.32\.0\s+node-role\.kubernetes\.io\/worker=,node\.kubernetes\.io\/instance-type=m5\.large\n$/,
    );
    const wide = await fixture.kubectl(['get', 'nodes', '-o', 'wide']);
    expect(wide.stdout).toMatch(
      /INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME/,
    );
    expect(wide.stdout).toMatch(
      /10\.0\.1\.10\s+<none>\s+Debian GNU\/Linux 12\s+6\.1\.0\s+sgpods:\/\/0\.1\.0/,
    );
    await post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'red' },
      spec: {
        containers: [{ name: 'red', image: 'sgpods/demo:1' }],
        nodeName: 'ip-10-0-1-10.ec2.internal',
      },
    });
    await fixture.call('PATCH', '/api/v1/namespaces/default/pods/red/status', {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({
        status: {
          phase: 'Running',
          podIP: '10.0.1.77',
          containerStatuses: [
            { name: 'red', ready: true, restartCount: 2, state: { running: {} } },
          ],
        },
      }),
    });
    const pods = await fixture.kubectl(['get', 'pods', '-o', 'wide']);
    expect(pods.stdout).toMatch(
      /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\nred\s+1\/1\s+Running\s+2\s+\d+s\s+10\.0\.1\.77\s+ip-10-0-1-10\.ec2\.internal\s+<none>\s+<none>\n$/,
    );
  });

  it('decodes the protobuf Deployment of kubectl create deployment like its JSON', async () => {
    const created = await fixture.kubectl([
      'create',
      'deployment',
      'blue',
      '--image=sgpods/demo:2',
      '--port=8080',
      '--replicas=0',
      '--',
      'demo',
      '--serve',
    ]);
    expect(created.stdout).toBe('deployment.apps/blue created\n');
    const stored = (await get('/apis/apps/v1/namespaces/default/deployments/blue')).body;
    expect(stored).toMatchObject({
      metadata: { labels: { app: 'blue' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'blue' } },
        strategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels: { app: 'blue' } },
          spec: {
            containers: [
              {
                name: 'demo',
                image: 'sgpods/demo:2',
                command: ['demo', '--serve'],
                ports: [{ containerPort: 8080, protocol: 'TCP' }],
              },
            ],
          },
        },
      },
    });
  });

  it('refuses invalid built-ins with 422 naming the fields', async () => {
    const mismatched = await post('/apis/apps/v1/namespaces/default/deployments', {
      metadata: { name: 'odd' },
      spec: {
        selector: { matchLabels: { app: 'odd' } },
        template: { metadata: { labels: { app: 'even' } }, spec: { containers: [{ name: 'c' }] } },
      },
    });
    expect(mismatched.status).toBe(422);
    expect(String(mismatched.body.message)).toBe(
      'Deployment.apps "odd" is invalid: [spec.template.metadata.labels: Invalid value: {"app":"even"}: `selector` does not match template `labels`, spec.template.spec.containers[0].image: Required value]',
    );
    const noContainers = await post('/api/v1/namespaces/default/pods', {
      metadata: { name: 'empty' },
      spec: {},
    });
    expect(noContainers.body).toMatchObject({
      code: 422,
      details: { causes: [{ reason: 'FieldValueRequired', field: 'spec.containers' }] },
    });
    const badName = await configMap('default', 'Not_A_Name');
    expect(badName.status).toBe(422);
    expect(String(badName.body.message)).toContain(
      'metadata.name: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain',
    );
    const kubectlView = await fixture.kubectl(['create', 'namespace', 'UPPER']);
    expect(kubectlView.stderr).toContain(
      'The Namespace "UPPER" is invalid: metadata.name: Invalid value: "UPPER"',
    );
  });
});
