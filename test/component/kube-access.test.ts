/**
 * Who may do what, with the machine's kubectl: RBAC on every request (Forbidden worded as
 * Kubernetes words it), ServiceAccount tokens from `kubectl create token`, `kubectl auth can-i`
 * for the admin, a service account and an impersonated one, the `default` ServiceAccount of each
 * namespace; and `--dry-run=server` (nothing stored) and `kubectl scale` (the scale subresource).
 */
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

describe('access control, dry runs and scale', () => {
  let fixture: KubeFixture;

  beforeAll(async () => {
    fixture = await startKubeFixture();
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('enforces RBAC for a ServiceAccount token, and answers can-i', async () => {
    const { kubectl } = fixture;
    await kubectl(['create', 'namespace', 'team']);
    await waitFor(async () => (await kubectl(['-n', 'team', 'get', 'sa', 'default'])).code === 0, {
      timeoutMs: 10_000,
      what: 'the default ServiceAccount of the namespace',
    });
    expect((await kubectl(['-n', 'team', 'create', 'sa', 'reader'])).stdout).toBe(
      'serviceaccount/reader created\n',
    );
    const token = (await kubectl(['-n', 'team', 'create', 'token', 'reader'])).stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const asReader = (args: string[]) => kubectl([...args, '--token', token]);

    const denied = await asReader(['-n', 'team', 'get', 'pods']);
    expect(denied.stderr).toContain(
      'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:reader" cannot list resource "pods" in API group "" in the namespace "team"',
    );
    expect((await asReader(['auth', 'can-i', 'list', 'pods', '-n', 'team'])).stdout).toBe('no\n');
    expect((await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'team'])).stdout).toBe('yes\n');

    expect(
      (
        await kubectl([
          '-n',
          'team',
          'create',
          'rolebinding',
          'reader-view',
          '--clusterrole=view',
          '--serviceaccount=team:reader',
        ])
      ).stdout,
    ).toBe('rolebinding.rbac.authorization.k8s.io/reader-view created\n');
    expect((await asReader(['auth', 'can-i', 'list', 'pods', '-n', 'team'])).stdout).toBe('yes\n');
    expect((await asReader(['-n', 'team', 'get', 'pods'])).stderr).toContain(
      'No resources found in team namespace.',
    );
    expect((await asReader(['-n', 'team', 'run', 'x', '--image=y'])).stderr).toContain(
      'cannot create resource "pods" in API group "" in the namespace "team"',
    );
    expect((await asReader(['get', 'nodes'])).stderr).toContain(
      'cannot list resource "nodes" in API group "" at the cluster scope',
    );
    const impersonated = (verb: string) =>
      kubectl([
        'auth',
        'can-i',
        verb,
        'pods',
        '-n',
        'team',
        '--as=system:serviceaccount:team:reader',
      ]);
    expect((await impersonated('watch')).stdout).toBe('yes\n');
    expect((await impersonated('delete')).stdout).toBe('no\n');
    expect(
      (await kubectl(['-n', 'team', 'get', 'rolebinding', 'reader-view', '-o', 'wide'])).stdout,
    ).toMatch(/reader-view\s+ClusterRole\/view\s+\d+s\s+team\/reader/);

    await kubectl(['-n', 'team', 'delete', 'sa', 'reader']);
    expect((await asReader(['-n', 'team', 'get', 'pods'])).stderr).toContain('Unauthorized');
  });

  it('lets a resourceNames rule list and watch its object through fieldSelector metadata.name', async () => {
    const { kubectl } = fixture;
    await kubectl(['create', 'namespace', 'named']);
    await kubectl(['-n', 'named', 'create', 'sa', 'one-map']);
    await kubectl(['-n', 'named', 'create', 'configmap', 'wanted', '--from-literal=k=v']);
    await kubectl(['-n', 'named', 'create', 'configmap', 'other', '--from-literal=k=v']);
    await kubectl([
      '-n',
      'named',
      'create',
      'role',
      'one-map',
      '--verb=get,list,watch',
      '--resource=configmaps',
      '--resource-name=wanted',
    ]);
    await kubectl([
      '-n',
      'named',
      'create',
      'rolebinding',
      'one-map',
      '--role=one-map',
      '--serviceaccount=named:one-map',
    ]);
    const token = (await kubectl(['-n', 'named', 'create', 'token', 'one-map'])).stdout.trim();
    const asOne = (args: string[]) => kubectl(['-n', 'named', ...args, '--token', token]);
    const narrowed = await asOne([
      'get',
      'configmaps',
      '--field-selector',
      'metadata.name=wanted',
      '-o',
      'name',
    ]);
    expect(narrowed.stdout).toBe('configmap/wanted\n');
    expect((await asOne(['get', 'configmaps'])).stderr).toContain(
      'cannot list resource "configmaps"',
    );
    expect(
      (await asOne(['get', 'configmaps', '--field-selector', 'metadata.name=other'])).stderr,
    ).toContain('cannot list resource "configmaps"');
  });

  it('keeps users without bindings to discovery and self-review', async () => {
    await fixture.restart(() => {
      appendFileSync(`${fixture.home}/kube-tokens.csv`, 'nobody-token,nobody,u-9,"guests"\n');
    });
    const asNobody = (args: string[]) => fixture.kubectl([...args, '--token', 'nobody-token']);
    expect(
      (await asNobody(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout,
    ).toBe('nobody');
    expect((await asNobody(['get', 'namespaces'])).stderr).toContain(
      'namespaces is forbidden: User "nobody" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
    expect((await asNobody(['auth', 'can-i', 'get', 'secrets', '-A'])).stdout).toBe('no\n');
    const impersonating = await asNobody(['get', 'pods', '--as=admin']);
    expect(impersonating.stderr).toContain('cannot impersonate resource "users" in API group ""');
  });

  it('stores nothing on --dry-run=server, and scales through the scale subresource', async () => {
    const { kubectl, call } = fixture;
    expect((await kubectl(['create', 'namespace', 'dry', '--dry-run=server'])).stdout).toBe(
      'namespace/dry created (server dry run)\n',
    );
    expect((await call('GET', '/api/v1/namespaces/dry')).status).toBe(404);
    await kubectl(['create', 'namespace', 'shop']);
    expect(
      (await kubectl(['-n', 'shop', 'create', 'deployment', 'web', '--image=sgpods/demo:1'])).code,
    ).toBe(0);
    const before = await call('GET', '/apis/apps/v1/namespaces/shop/deployments/web');
    expect(
      (await kubectl(['-n', 'shop', 'delete', 'deployment', 'web', '--dry-run=server'])).stdout,
    ).toBe('deployment.apps "web" deleted (server dry run)\n');
    const dryInvalid = await call('POST', '/apis/apps/v1/namespaces/shop/deployments?dryRun=All', {
      body: JSON.stringify({ metadata: { name: 'bad' }, spec: { selector: {}, template: {} } }),
    });
    expect(dryInvalid).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    expect(
      await call('POST', '/apis/apps/v1/namespaces/shop/deployments?dryRun=Some', { body: '{}' }),
    ).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });

    expect(
      (await kubectl(['-n', 'shop', 'scale', 'deployment', 'web', '--replicas=3'])).stdout,
    ).toBe('deployment.apps/web scaled\n');
    const scale = await call('GET', '/apis/apps/v1/namespaces/shop/deployments/web/scale');
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 3 },
      status: { replicas: 0, selector: 'app=web' },
    });
    const after = await call('GET', '/apis/apps/v1/namespaces/shop/deployments/web');
    expect((after.body.metadata as { generation: number }).generation).toBe(
      (before.body.metadata as { generation: number }).generation + 1,
    );
    expect(
      await call('PUT', '/apis/apps/v1/namespaces/shop/deployments/web/scale', {
        body: JSON.stringify({
          metadata: { name: 'web', resourceVersion: '1' },
          spec: { replicas: 5 },
        }),
      }),
    ).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
  });
});
