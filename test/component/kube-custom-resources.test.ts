/**
 * Custom resources with the machine's kubectl: the workshop's commands on SecurityGroupPolicies
 * (reference/kubectl.md §1) against the bundled upstream CRDs, schema validation with field
 * paths, pruning and strict field validation, and a CRD's life: defaults, printer columns, the
 * status subresource, a second served version, and its deletion taking its objects along.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledCrdDirectory } from '../../src/servers/kube/kube-api-server.js';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

const policy = (groupIds: string) => `apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata:
  name: allow-rds-access
spec:
  podSelector:
    matchLabels:
      app: green-pod
  securityGroups:
    groupIds: ${groupIds}
`;

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    names: { kind: 'Widget', plural: 'widgets', shortNames: ['wd'], categories: ['all'] },
    scope: 'Namespaced',
    versions: ['v1', 'v2'].map((name) => ({
      name,
      served: true,
      storage: name === 'v1',
      subresources: { status: {} },
      additionalPrinterColumns: [
        { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
        { name: 'Colour', type: 'string', jsonPath: '.spec.colour', priority: 1 },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
      schema: {
        openAPIV3Schema: {
          type: 'object',
          properties: {
            spec: {
              type: 'object',
              required: ['size'],
              properties: {
                size: { type: 'integer', minimum: 1 },
                colour: { type: 'string', default: 'blue', enum: ['blue', 'red'] },
                extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
            status: { type: 'object', properties: { ready: { type: 'boolean' } } },
          },
        },
      },
    })),
  },
};

describe('custom resources', () => {
  let fixture: KubeFixture;

  beforeAll(async () => {
    fixture = await startKubeFixture({
      crdManifests: readdirSync(bundledCrdDirectory).map((name) => join(bundledCrdDirectory, name)),
    });
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('replays the workshop commands on SecurityGroupPolicies', async () => {
    const { kubectl } = fixture;
    const crd = await kubectl(['get', 'crd', 'securitygrouppolicies.vpcresources.k8s.aws']);
    expect(crd.stdout).toMatch(
      /^NAME\s+CREATED AT\nsecuritygrouppolicies\.vpcresources\.k8s\.aws\s+\d{4}-/,
    );
    expect((await kubectl(['get', 'crd', 'nope.example.com'])).stderr).toContain(
      'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "nope.example.com" not found',
    );
    expect((await kubectl(['create', 'namespace', 'sg-per-pod'])).stdout).toBe(
      'namespace/sg-per-pod created\n',
    );
    const manifest = policy('["sg-0123456789abcdef0"]');
    const apply = () => kubectl(['-n', 'sg-per-pod', 'apply', '-f', '-'], manifest);
    expect((await apply()).stdout).toBe(
      'securitygrouppolicy.vpcresources.k8s.aws/allow-rds-access created\n',
    );
    expect((await apply()).stdout).toBe(
      'securitygrouppolicy.vpcresources.k8s.aws/allow-rds-access unchanged\n',
    );
    const changed = policy('["sg-0123456789abcdef0", "sg-0fedcba9876543210"]');
    expect((await kubectl(['-n', 'sg-per-pod', 'apply', '-f', '-'], changed)).stdout).toBe(
      'securitygrouppolicy.vpcresources.k8s.aws/allow-rds-access configured\n',
    );
    expect((await kubectl(['-n', 'sg-per-pod', 'get', 'sgp'])).stdout).toBe(
      [
        'NAME               SECURITY-GROUP-IDS',
        'allow-rds-access   ["sg-0123456789abcdef0","sg-0fedcba9876543210"]',
        '',
      ].join('\n'),
    );
    const stored = await fixture.call(
      'GET',
      '/apis/vpcresources.k8s.aws/v1beta1/namespaces/sg-per-pod/securitygrouppolicies/allow-rds-access',
    );
    const event = (name: string, involvedName: string, uid: unknown) => ({
      metadata: { name },
      involvedObject: {
        apiVersion: 'vpcresources.k8s.aws/v1beta1',
        kind: 'SecurityGroupPolicy',
        name: involvedName,
        namespace: 'sg-per-pod',
        uid,
      },
      type: 'Normal',
      reason: 'Matched',
      message: `policy ${name} matched a pod`,
      source: { component: 'sgpods-controller' },
      firstTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      count: 1,
    });
    const uid = (stored.body.metadata as { uid: string }).uid;
    for (const body of [
      event('mine', 'allow-rds-access', uid),
      event('other', 'someone-else', 'x'),
    ]) {
      await fixture.call('POST', '/api/v1/namespaces/sg-per-pod/events', {
        body: JSON.stringify(body),
      });
    }
    const described = await kubectl(['-n', 'sg-per-pod', 'describe', 'securitygrouppolicy']);
    expect(described.stdout).toMatch(
      /Normal\s+Matched\s+\d+s\s+sgpods-controller\s+policy mine matched a pod/,
    );
    expect(described.stdout).not.toContain('policy other');
    expect((await kubectl(['-n', 'sg-per-pod', 'get', 'events'])).stdout).toMatch(
      /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/,
    );
    expect(described.stdout).toMatch(/Name:\s+allow-rds-access/);
    expect(described.stdout).toMatch(
      /Group Ids:\n\s+sg-0123456789abcdef0\n\s+sg-0fedcba9876543210/,
    );
    const generation = await kubectl([
      '-n',
      'sg-per-pod',
      'get',
      'sgp',
      'allow-rds-access',
      '-o',
      'jsonpath={.metadata.generation}',
    ]);
    expect(generation.stdout).toBe('2');

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
      'jsonpath={.type} {.data.host}',
    ]);
    expect(secret.stdout).toBe('Opaque eQ==');

    const watchOutput: string[] = [];
    const watcher = fixture.spawnKubectl(['get', 'ns', 'sg-per-pod', '-w']);
    watcher.stdout?.on('data', (chunk: Buffer) => watchOutput.push(chunk.toString()));
    try {
      await waitFor(() => /sg-per-pod\s+Active/.test(watchOutput.join('')), {
        timeoutMs: 30_000,
        what: 'the namespace in the watch',
      });
      expect((await kubectl(['delete', 'ns', 'sg-per-pod'])).stdout).toBe(
        'namespace "sg-per-pod" deleted\n',
      );
      await waitFor(() => /sg-per-pod\s+Terminating/.test(watchOutput.join('')), {
        timeoutMs: 10_000,
        what: 'the Terminating row',
      });
    } finally {
      watcher.kill();
    }
    const gone = await kubectl(['get', 'ns', 'sg-per-pod']);
    expect(gone.stderr).toContain('namespaces "sg-per-pod" not found');
    expect(fixture.server.store.list('vpcresources.k8s.aws/securitygrouppolicies').items).toEqual(
      [],
    );
    expect(fixture.server.store.list('/secrets', 'sg-per-pod').items).toEqual([]);
  });

  it('rejects a policy with no security groups, naming the field', async () => {
    await fixture.kubectl(['create', 'namespace', 'empty-groups']);
    const rejected = await fixture.kubectl(
      ['-n', 'empty-groups', 'apply', '-f', '-'],
      policy('[]'),
    );
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain(
      'spec.securityGroups.groupIds: Invalid value: 0: spec.securityGroups.groupIds in body should have at least 1 items',
    );
    const raw = await fixture.call(
      'POST',
      '/apis/vpcresources.k8s.aws/v1beta1/namespaces/empty-groups/securitygrouppolicies',
      {
        body: JSON.stringify({
          metadata: { name: 'p' },
          spec: { securityGroups: { groupIds: [] } },
        }),
      },
    );
    expect(raw.status).toBe(422);
    expect(raw.body).toMatchObject({
      kind: 'Status',
      reason: 'Invalid',
      code: 422,
      details: {
        name: 'p',
        group: 'vpcresources.k8s.aws',
        kind: 'SecurityGroupPolicy',
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.securityGroups.groupIds' }],
      },
    });
    const wrongType = await fixture.call(
      'POST',
      '/apis/vpcresources.k8s.aws/v1beta1/namespaces/empty-groups/securitygrouppolicies',
      { body: JSON.stringify({ metadata: { name: 'p' }, spec: { securityGroups: 'sg-1' } }) },
    );
    expect(wrongType.status).toBe(422);
    expect(String(wrongType.body.message)).toContain(
      'spec.securityGroups: Invalid value: "string": spec.securityGroups in body must be of type object: "string"',
    );
    expect(
      fixture.server.store.list('vpcresources.k8s.aws/securitygrouppolicies', 'empty-groups').items,
    ).toEqual([]);
  });

  it('prunes unknown fields, refusing them under strict field validation', async () => {
    await fixture.kubectl(['create', 'namespace', 'pruning']);
    const path = '/apis/vpcresources.k8s.aws/v1beta1/namespaces/pruning/securitygrouppolicies';
    const body = JSON.stringify({
      metadata: { name: 'typo' },
      spec: { podSelectr: {}, securityGroups: { groupIds: ['sg-1'] } },
    });
    const strict = await fixture.call('POST', `${path}?fieldValidation=Strict`, { body });
    expect(strict).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(String(strict.body.message)).toContain(
      'strict decoding error: unknown field "spec.podSelectr"',
    );
    const warned = await fixture.call('POST', path, { body });
    expect(warned.status).toBe(201);
    expect(warned.headers.warning).toBe('299 - "unknown field \\"spec.podSelectr\\""');
    expect(warned.body.spec).toEqual({ securityGroups: { groupIds: ['sg-1'] } });
    const strategic = await fixture.call('PATCH', `${path}/typo`, {
      body: '{"spec":{"securityGroups":{"groupIds":["sg-2"]}}}',
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(strategic).toMatchObject({ status: 415, body: { reason: 'UnsupportedMediaType' } });
  });

  it('serves a new CRD: discovery, defaults, columns, status, versions, and deletion', async () => {
    const { kubectl, call } = fixture;
    expect((await kubectl(['apply', '-f', '-'], JSON.stringify(widgetCrd))).stdout).toBe(
      'customresourcedefinition.apiextensions.k8s.io/widgets.example.com created\n',
    );
    const crd = await call(
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com',
    );
    expect(crd.body.status).toMatchObject({
      acceptedNames: { kind: 'Widget', plural: 'widgets' },
      conditions: expect.arrayContaining([
        expect.objectContaining({ type: 'Established', status: 'True' }),
      ]) as unknown,
      storedVersions: ['v1'],
    });
    await kubectl(['create', 'namespace', 'shop']);
    const widget = JSON.stringify({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w1', namespace: 'shop' },
      spec: { size: 3, extra: { anything: { goes: true } } },
      status: { ready: true },
    });
    expect((await kubectl(['apply', '-f', '-'], widget)).stdout).toBe(
      'widget.example.com/w1 created\n',
    );
    const created = await call('GET', '/apis/example.com/v2/namespaces/shop/widgets/w1');
    expect(created.body).toMatchObject({
      apiVersion: 'example.com/v2',
      spec: { size: 3, colour: 'blue', extra: { anything: { goes: true } } },
    });
    expect(created.body.status).toBeUndefined();
    expect((await kubectl(['-n', 'shop', 'get', 'wd', '-o', 'wide'])).stdout).toMatch(
      /^NAME\s+SIZE\s+COLOUR\s+AGE\nw1\s+3\s+blue\s+\d+s\n$/,
    );
    expect((await kubectl(['-n', 'shop', 'get', 'all', '-o', 'name'])).stdout).toContain(
      'widget.example.com/w1',
    );

    const statusPath = '/apis/example.com/v1/namespaces/shop/widgets/w1/status';
    const patched = await call('PATCH', statusPath, {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ status: { ready: true }, spec: { size: 99 } }),
    });
    expect(patched.body).toMatchObject({ spec: { size: 3 }, status: { ready: true } });
    expect((patched.body.metadata as { generation: number }).generation).toBe(1);
    const mainPatch = await call('PATCH', '/apis/example.com/v1/namespaces/shop/widgets/w1', {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ status: { ready: false }, spec: { size: 4 } }),
    });
    expect(mainPatch.body).toMatchObject({ spec: { size: 4 }, status: { ready: true } });
    expect((mainPatch.body.metadata as { generation: number }).generation).toBe(2);
    const invalidSize = await call('PATCH', '/apis/example.com/v1/namespaces/shop/widgets/w1', {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ spec: { size: 0, colour: 'green' } }),
    });
    expect(invalidSize.status).toBe(422);
    expect(String(invalidSize.body.message)).toContain(
      'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1',
    );
    expect(String(invalidSize.body.message)).toContain(
      'spec.colour: Unsupported value: "green": supported values: "blue", "red"',
    );

    expect((await kubectl(['delete', 'crd', 'widgets.example.com'])).code).toBe(0);
    await waitFor(
      async () =>
        (
          await call(
            'GET',
            '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com',
          )
        ).status === 404,
      { timeoutMs: 10_000, what: 'the CRD to go' },
    );
    expect(fixture.server.store.list('example.com/widgets').items).toEqual([]);
    expect((await call('GET', '/apis/example.com/v1/namespaces/shop/widgets')).status).toBe(404);
  });

  it('refuses a CRD it cannot serve, naming the fields', async () => {
    const bad = await fixture.call(
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      {
        body: JSON.stringify({
          metadata: { name: 'things.example.com' },
          spec: {
            group: 'example.com',
            names: { kind: 'Thing', plural: 'stuff' },
            scope: 'Global',
            versions: [
              {
                name: 'v1',
                served: true,
                storage: false,
                schema: { openAPIV3Schema: { type: 'string' } },
              },
            ],
          },
        }),
      },
    );
    expect(bad.status).toBe(422);
    const message = String(bad.body.message);
    expect(message).toContain('metadata.name: Invalid value: "things.example.com"');
    expect(message).toContain('spec.scope: Unsupported value: "Global"');
    expect(message).toContain('must have exactly one version marked as storage version');
    expect(message).toContain(
      'spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string"',
    );
  });
});
