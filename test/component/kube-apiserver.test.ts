/**
 * The local API server with the machine's kubectl (its own KUBECACHEDIR) and plain HTTPS
 * requests: the everyday commands, watch, protobuf bodies from `kubectl create`, and Status
 * errors with Kubernetes' reasons and codes.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeFixture, type CallOptions, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

describe('the local Kubernetes API server', () => {
  let fixture: KubeFixture;
  let home = '';
  let token = '';
  let ca = '';
  const kubectl = (args: readonly string[]) => fixture.kubectl(args);
  const call = (method: string, path: string, options?: CallOptions) =>
    fixture.call(method, path, options);

  beforeAll(async () => {
    fixture = await startKubeFixture();
    ({ home, token, ca } = fixture);
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('serves kubectl: version, namespaces, protobuf creates, get, label, watch, delete', async () => {
    expect((await kubectl(['version'])).stdout).toContain('Server Version: v1.32.0');
    expect(
      (await kubectl(['get', 'ns', '-o', 'name'])).stdout.split('\n').filter(Boolean).sort(),
    ).toEqual([
      'namespace/default',
      'namespace/kube-node-lease',
      'namespace/kube-public',
      'namespace/kube-system',
    ]);
    expect((await kubectl(['create', 'namespace', 'sg-per-pod'])).stdout).toBe(
      'namespace/sg-per-pod created\n',
    );
    const again = await kubectl(['create', 'namespace', 'sg-per-pod']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      'Error from server (AlreadyExists): namespaces "sg-per-pod" already exists',
    );
    expect(
      (
        await kubectl([
          'create',
          'secret',
          'generic',
          'rds',
          '--namespace=sg-per-pod',
          '--from-literal=password=x',
          '--from-literal=host=y',
        ])
      ).stdout,
    ).toBe('secret/rds created\n');
    const secret = await kubectl([
      '-n',
      'sg-per-pod',
      'get',
      'secret',
      'rds',
      '-o',
      'jsonpath={.type} {.data.host} {.data.password}',
    ]);
    expect(secret.stdout).toBe('Opaque eQ== eA==');
    // stringData is write-only: merged into data, over the same key, and never stored.
    const withStringData = join(home, 'secret.yaml');
    writeFileSync(
      withStringData,
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: mixed\n  namespace: sg-per-pod\ndata:\n  a: eA==\n  b: eA==\nstringData:\n  b: rds.example\n',
    );
    expect((await kubectl(['apply', '-f', withStringData])).stdout).toBe('secret/mixed created\n');
    const mixed = await kubectl([
      '-n',
      'sg-per-pod',
      'get',
      'secret',
      'mixed',
      '-o',
      'jsonpath={.type} {.data.a} {.data.b} [{.stringData}]',
    ]);
    expect(mixed.stdout).toBe(`Opaque eA== ${Buffer.from('rds.example').toString('base64')} []`);

    const manifest = join(home, 'cm.yaml');
    writeFileSync(
      manifest,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: sg-per-pod\ndata:\n  a: "1"\n',
    );
    expect((await kubectl(['create', '-f', manifest])).stdout).toBe('configmap/demo created\n');
    expect((await kubectl(['-n', 'sg-per-pod', 'label', 'cm', 'demo', 'team=x'])).stdout).toBe(
      'configmap/demo labeled\n',
    );
    expect(
      (await kubectl(['-n', 'sg-per-pod', 'get', 'cm', 'demo', '--show-labels'])).stdout,
    ).toMatch(/demo\s+1\s+\S+\s+team=x/);
    const selected = (selector: string) =>
      kubectl(['-n', 'sg-per-pod', 'get', 'cm', '-l', selector, '-o', 'name']);
    expect((await selected('team in (x,y)')).stdout).toBe('configmap/demo\n');
    expect((await selected('team!=x')).stdout).toBe('');
    expect((await selected('bad key')).stderr).toContain('Error');

    const watchOutput: string[] = [];
    const watcher = fixture.spawnKubectl(['-n', 'sg-per-pod', 'get', 'cm', '-w', '-o', 'name']);
    watcher.stdout?.on('data', (chunk: Buffer) => watchOutput.push(chunk.toString()));
    try {
      await waitFor(() => watchOutput.join('').includes('configmap/demo'), {
        timeoutMs: 30_000,
        what: 'the watch to list',
      });
      expect((await kubectl(['-n', 'sg-per-pod', 'delete', 'cm', 'demo'])).stdout).toBe(
        'configmap "demo" deleted\n',
      );
      // Without Table output kubectl prints each event's object name: the deletion is a second line.
      await waitFor(() => watchOutput.join('').split('configmap/demo').length === 3, {
        timeoutMs: 30_000,
        what: 'the watch to see the deletion',
      });
    } finally {
      watcher.kill();
    }
    const missing = await kubectl(['-n', 'sg-per-pod', 'get', 'cm', 'demo']);
    expect(missing.stderr).toContain('Error from server (NotFound): configmaps "demo" not found');
  });

  it('authenticates the static tokens of the home: who each caller is', async () => {
    await fixture.restart(() => {
      appendFileSync(join(home, 'kube-tokens.csv'), 'jane-token,jane,u-2,"developers,qa"\n');
    });
    const admin = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo}']);
    expect(JSON.parse(admin.stdout)).toEqual({
      username: 'admin',
      uid: 'admin',
      groups: ['system:masters', 'system:authenticated'],
    });
    const jane = await kubectl(['--token', 'jane-token', 'auth', 'whoami']);
    expect(jane.stdout).toMatch(
      /Username\s+jane\nUID\s+u-2\nGroups\s+\[developers qa system:authenticated\]/,
    );
    const stranger = await kubectl(['--token', 'nobody', 'auth', 'whoami']);
    expect(stranger.stderr).toContain('Unauthorized');
    expect(await call('GET', '/apis/authentication.k8s.io/v1/selfsubjectreviews')).toMatchObject({
      status: 405,
      body: { reason: 'MethodNotAllowed' },
    });
  });

  it('answers bad requests with Status objects', async () => {
    expect(await call('GET', '/api/v1/namespaces', { token: '' })).toMatchObject({
      status: 401,
      body: { kind: 'Status', reason: 'Unauthorized', code: 401 },
    });
    expect(await call('GET', '/api/v1/namespaces', { token: 'wrong' })).toMatchObject({
      status: 401,
    });
    expect(
      await call('GET', `/api/v1/configmaps?labelSelector=${encodeURIComponent('a in (b')}`),
    ).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(await call('GET', '/api/v1/nosuch')).toMatchObject({
      status: 404,
      body: { reason: 'NotFound' },
    });
    expect(
      await call('POST', '/api/v1/namespaces/default/configmaps', { body: '{not json' }),
    ).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(
      await call('POST', '/api/v1/namespaces/default/configmaps', { body: '{"metadata":{}}' }),
    ).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    const yaml = (body: string) =>
      call('POST', '/api/v1/namespaces/default/configmaps', {
        body,
        contentType: 'application/yaml',
      });
    expect(await yaml('metadata: {name: from-yaml}\ndata: {a: "1"}\n')).toMatchObject({
      status: 201,
      body: { kind: 'ConfigMap', data: { a: '1' } },
    });
    expect(await yaml('metadata: [unclosed\n')).toMatchObject({
      status: 400,
      body: { reason: 'BadRequest' },
    });
    expect(await yaml('- a list\n')).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(
      await call('POST', '/apis/example.com/v1/namespaces/default/widgets', { body: '{}' }),
    ).toMatchObject({ status: 404, body: { reason: 'NotFound' } });
    expect(
      await call('POST', '/api/v1/namespaces/default/configmaps', {
        body: '{"kind":"Secret","metadata":{"name":"kind-mismatch"}}',
      }),
    ).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(
      await call('GET', '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc'),
    ).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(
      await call('POST', '/api/v1/namespaces/nope/configmaps', {
        body: '{"metadata":{"name":"x"}}',
      }),
    ).toMatchObject({ status: 404, body: { reason: 'NotFound' } });
    const created = await call('POST', '/api/v1/namespaces/default/configmaps', {
      body: '{"metadata":{"name":"x"},"data":{"a":"1"}}',
    });
    expect(created.status).toBe(201);
    const stale = await call('PUT', '/api/v1/namespaces/default/configmaps/x', {
      body: JSON.stringify({ metadata: { name: 'x', resourceVersion: '1' }, data: { a: '2' } }),
    });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    const jsonPatch = (body: string) =>
      call('PATCH', '/api/v1/namespaces/default/configmaps/x', {
        body,
        contentType: 'application/json-patch+json',
      });
    expect(await jsonPatch('[{"op":"replace","path":"/data/a","value":"3"}]')).toMatchObject({
      status: 200,
      body: { data: { a: '3' } },
    });
    expect(await jsonPatch('[{"op":"test","path":"/data/a","value":"9"}]')).toMatchObject({
      status: 422,
      body: { reason: 'Invalid' },
    });
    expect(await jsonPatch('{"op":"add"}')).toMatchObject({
      status: 400,
      body: { reason: 'BadRequest' },
    });
    const smp = await call('PATCH', '/api/v1/namespaces/default/configmaps/x', {
      body: '{"data":{"b":"2"}}',
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(smp).toMatchObject({ status: 200, body: { data: { a: '3', b: '2' } } });
    const unknownPatch = await call('PATCH', '/api/v1/namespaces/default/configmaps/x', {
      body: '{}',
      contentType: 'application/x-unknown-patch',
    });
    expect(unknownPatch).toMatchObject({ status: 415, body: { reason: 'UnsupportedMediaType' } });
    const big = await call('POST', '/api/v1/namespaces/default/configmaps', {
      body: `{"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`,
    }).catch(() => ({ status: 413, body: {} }));
    expect(big.status).toBe(413);
    expect(
      await call('POST', '/api/v1/namespaces', {
        body: 'k8s\0garbage',
        contentType: 'application/vnd.kubernetes.protobuf',
      }),
    ).toMatchObject({ status: 400 });
  });

  it('replays a watch from the resourceVersion of a list', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/configmaps');
    const listed = (list.body.metadata as { resourceVersion: string }).resourceVersion;
    expect(Number(listed)).toBeGreaterThan(0);
    await call('POST', '/api/v1/namespaces/default/configmaps', {
      body: '{"metadata":{"name":"later"}}',
    });
    const events = await new Promise<string>((resolve, reject) => {
      const request = httpsRequest(
        `${fixture.server.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${listed}&timeoutSeconds=1`,
        { ca, headers: { Authorization: `Bearer ${token}` } },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve(text));
        },
      );
      request.on('error', reject);
      request.end();
    });
    const lines = events
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; object: { metadata: { name: string } } });
    expect(lines.map((line) => [line.type, line.object.metadata.name])).toEqual([
      ['ADDED', 'later'],
    ]);
  });
});
