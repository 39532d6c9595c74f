/**
 * kubectl's editing paths on built-ins: the workshop's Deployment applied twice and edited
 * (strategic merge patches with `$setElementOrder`), `kubectl set env` keeping the other
 * variables in order, `kubectl patch` of each type; and `kubectl explain` / `api-resources`
 * from the OpenAPI and discovery documents.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledCrdDirectory } from '../../src/servers/kube/kube-api-server.js';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';

const greenPod = readFileSync(
  new URL('../../examples/workshop/green-pod.yaml', import.meta.url),
  'utf8',
);

interface Container {
  readonly name: string;
  readonly image: string;
  readonly env?: readonly { name: string; value?: string }[];
  readonly resources?: unknown;
}

describe('patches and explain', () => {
  let fixture: KubeFixture;
  const containers = async (): Promise<Container[]> => {
    const deployment = await fixture.call(
      'GET',
      '/apis/apps/v1/namespaces/sg-per-pod/deployments/green-pod',
    );
    return (deployment.body.spec as { template: { spec: { containers: Container[] } } }).template
      .spec.containers;
  };

  beforeAll(async () => {
    fixture = await startKubeFixture({
      crdManifests: [`${bundledCrdDirectory}/securitygrouppolicies.yaml`],
    });
    await fixture.kubectl(['create', 'namespace', 'sg-per-pod']);
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('applies the workshop Deployment twice, then only the edit lands', async () => {
    const apply = (manifest: string) => fixture.kubectl(['apply', '-f', '-'], manifest);
    expect((await apply(greenPod)).stdout).toBe('deployment.apps/green-pod created\n');
    expect((await apply(greenPod)).stdout).toBe('deployment.apps/green-pod unchanged\n');
    const before = await containers();
    const edited = greenPod.replace('fmedery/app:latest', 'fmedery/app:v2');
    expect((await apply(edited)).stdout).toBe('deployment.apps/green-pod configured\n');
    const after = await containers();
    // As on a real cluster, the pull policy defaulted at create (latest: Always) stays.
    expect(after).toEqual([{ ...before[0], image: 'fmedery/app:v2' }]);
  });

  it('adds an env var with set env, keeping the others in order', async () => {
    const set = await fixture.kubectl([
      '-n',
      'sg-per-pod',
      'set',
      'env',
      'deployment/green-pod',
      'K=V',
    ]);
    expect(set.stdout).toBe('deployment.apps/green-pod env updated\n');
    expect((await containers())[0]?.env?.map((variable) => variable.name)).toEqual([
      'HOST',
      'DBNAME',
      'USER',
      'PASSWORD',
      'K',
    ]);
    await fixture.kubectl(['-n', 'sg-per-pod', 'set', 'env', 'deployment/green-pod', 'DBNAME-']);
    expect((await containers())[0]?.env?.map((variable) => variable.name)).toEqual([
      'HOST',
      'USER',
      'PASSWORD',
      'K',
    ]);
  });

  it('patches with each patch type', async () => {
    const patch = (type: string, body: string) =>
      fixture.kubectl([
        '-n',
        'sg-per-pod',
        'patch',
        'deployment',
        'green-pod',
        `--type=${type}`,
        '-p',
        body,
      ]);
    expect(
      (
        await patch(
          'strategic',
          '{"spec":{"template":{"spec":{"containers":[{"name":"green-pod","image":"x:1"}]}}}}',
        )
      ).stdout,
    ).toBe('deployment.apps/green-pod patched\n');
    expect((await containers())[0]).toMatchObject({
      image: 'x:1',
      env: expect.any(Array) as unknown,
    });
    await patch('merge', '{"spec":{"replicas":3}}');
    await patch('json', '[{"op":"replace","path":"/spec/replicas","value":4}]');
    const deployment = await fixture.call(
      'GET',
      '/apis/apps/v1/namespaces/sg-per-pod/deployments/green-pod',
    );
    expect((deployment.body.spec as { replicas: number }).replicas).toBe(4);
    const noMergeKey = await patch(
      'strategic',
      '{"spec":{"template":{"spec":{"containers":[{"image":"y"}]}}}}',
    );
    expect(noMergeKey.stderr).toContain('does not contain declared merge key: name');
  });

  it('applies server-side: field managers, conflicts, --force-conflicts, dropped fields', async () => {
    await fixture.kubectl(['create', 'namespace', 'ssa']);
    const manifest = greenPod.replace('namespace: sg-per-pod', 'namespace: ssa');
    const apply = (text: string, ...flags: string[]) =>
      fixture.kubectl(['apply', '--server-side', ...flags, '-f', '-'], text);
    const path = '/apis/apps/v1/namespaces/ssa/deployments/green-pod';
    expect((await apply(manifest)).stdout).toBe('deployment.apps/green-pod serverside-applied\n');
    const first = await fixture.call('GET', path);
    expect((await apply(manifest)).stdout).toBe('deployment.apps/green-pod serverside-applied\n');
    const second = await fixture.call('GET', path);
    expect((second.body.metadata as { resourceVersion: string }).resourceVersion).toBe(
      (first.body.metadata as { resourceVersion: string }).resourceVersion,
    );
    await fixture.kubectl(['-n', 'ssa', 'scale', 'deployment', 'green-pod', '--replicas=3']);
    const conflict = await apply(manifest);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(
      'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
    );
    expect((await apply(manifest, '--force-conflicts')).code).toBe(0);
    const forced = await fixture.kubectl([
      '-n',
      'ssa',
      'get',
      'deployment',
      'green-pod',
      '--show-managed-fields',
      '-o',
      'json',
    ]);
    const object = JSON.parse(forced.stdout) as {
      spec: { replicas: number };
      metadata: { managedFields: { manager: string; operation: string }[] };
    };
    expect(object.spec.replicas).toBe(1);
    expect(object.metadata.managedFields.map((entry) => [entry.manager, entry.operation])).toEqual([
      ['kubectl', 'Apply'],
    ]);
    const withoutUser = manifest.replace(/\s+- name: USER\n\s+value: eksworkshop/, '');
    expect(withoutUser).not.toContain('name: USER');
    await apply(withoutUser);
    const after = await fixture.call('GET', path);
    const env = (after.body.spec as { template: { spec: { containers: Container[] } } }).template
      .spec.containers[0]?.env;
    expect(env?.map((variable) => variable.name)).toEqual(['HOST', 'DBNAME', 'PASSWORD']);
    const anonymous = await fixture.call('PATCH', path, {
      contentType: 'application/apply-patch+yaml',
      body: manifest,
    });
    expect(anonymous).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
  });

  it('explains built-in and custom fields, and lists sgp in api-resources', async () => {
    const custom = await fixture.kubectl(['explain', 'securitygrouppolicy.spec.securityGroups']);
    expect(custom.stdout).toContain('FIELD: securityGroups <Object>');
    expect(custom.stdout).toMatch(
      /groupIds\s+<\[\]string>\n\s+Groups is the list of EC2 Security Groups Ids/,
    );
    const builtin = await fixture.kubectl(['explain', 'deployment.spec.replicas']);
    expect(builtin.stdout).toContain('FIELD: replicas <integer>');
    const containersField = await fixture.kubectl(['explain', 'pods.spec.containers']);
    expect(containersField.stdout).toContain('FIELD: containers <[]Container>');
    expect(containersField.stdout).toMatch(/env\s+<\[\]EnvVar>/);
    const resources = await fixture.kubectl(['api-resources', '--api-group=vpcresources.k8s.aws']);
    expect(resources.stdout).toMatch(
      /securitygrouppolicies\s+sgp\s+vpcresources\.k8s\.aws\/v1beta1\s+true\s+SecurityGroupPolicy/,
    );
  });
});
