/**
 * Admission webhooks over real HTTPS: a test webhook server (its own CA, given as caBundle)
 * receives AdmissionReviews for the kinds, operations and namespaces its rules select, with the
 * caller as userInfo; its JSON patch lands; its denial shows in kubectl as Kubernetes shows it;
 * `failurePolicy: Fail` rejects while it is down and `Ignore` admits; a wrong CA is a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServingCertificates } from '../../src/adapters/tls/certificates.js';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';

type Json = Record<string, unknown>;

interface Review {
  readonly path: string;
  readonly request: Json;
}

describe('admission webhooks', () => {
  let fixture: KubeFixture;
  let webhookServer: Server;
  let webhookUrl = '';
  let caBundle = '';
  const certificates = mkdtempSync(join(tmpdir(), 'sgpods-webhook-pki-'));
  const reviews: Review[] = [];

  const respond = (path: string, request: Json): Json => {
    const object = (request.object ?? {}) as { metadata?: { labels?: Record<string, string> } };
    if (path === '/mutate') {
      const patch = [
        object.metadata?.labels
          ? { op: 'add', path: '/metadata/labels/mutated', value: 'yes' }
          : { op: 'add', path: '/metadata/labels', value: { mutated: 'yes' } },
      ];
      return {
        uid: request.uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
      };
    }
    if (object.metadata?.labels?.deny === 'true') {
      return {
        uid: request.uid,
        allowed: false,
        status: { code: 403, message: 'no deny label allowed' },
      };
    }
    return { uid: request.uid, allowed: true };
  };

  const configuration = (kind: 'Mutating' | 'Validating', options: Json = {}) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: `${kind}WebhookConfiguration`,
    metadata: { name: `${kind.toLowerCase()}-test` },
    webhooks: [
      {
        name: `${kind.toLowerCase()}.sgpods.test`,
        clientConfig: {
          url: `${webhookUrl}/${kind === 'Mutating' ? 'mutate' : 'validate'}`,
          caBundle,
        },
        rules: [
          {
            operations: kind === 'Mutating' ? ['CREATE'] : ['CREATE', 'UPDATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['configmaps'],
          },
        ],
        namespaceSelector: { matchLabels: { webhooks: 'on' } },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 5,
        ...options,
      },
    ],
  });

  beforeAll(async () => {
    const { authority, serving } = ensureServingCertificates(certificates, 'webhook', [
      '127.0.0.1',
    ]);
    caBundle = Buffer.from(authority.certificatePem).toString('base64');
    webhookServer = createServer(
      { cert: serving.certificatePem, key: serving.keyPem },
      (request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: Json };
          const path = request.url ?? '';
          reviews.push({ path, request: review.request });
          response.writeHead(200, { 'Content-Type': 'application/json' });
          response.end(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: respond(path, review.request),
            }),
          );
        });
      },
    );
    await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
    webhookUrl = `https://127.0.0.1:${(webhookServer.address() as AddressInfo).port}`;
    fixture = await startKubeFixture();
    for (const kind of ['Mutating', 'Validating'] as const) {
      const applied = await fixture.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify(configuration(kind)),
      );
      expect(applied.code).toBe(0);
    }
    await fixture.kubectl(['create', 'namespace', 'hooked']);
    await fixture.kubectl(['label', 'namespace', 'hooked', 'webhooks=on']);
    await fixture.kubectl(['create', 'namespace', 'plain']);
  });

  afterAll(async () => {
    await fixture.close();
    webhookServer.close();
    rmSync(certificates, { recursive: true, force: true });
  });

  it('sends the object, the operation and the caller, and applies the mutation', async () => {
    reviews.length = 0;
    expect(
      (await fixture.kubectl(['-n', 'hooked', 'create', 'configmap', 'one', '--from-literal=a=b']))
        .code,
    ).toBe(0);
    const stored = await fixture.call('GET', '/api/v1/namespaces/hooked/configmaps/one');
    expect(stored.body).toMatchObject({
      metadata: { labels: { mutated: 'yes' } },
      data: { a: 'b' },
    });
    expect(reviews.map((review) => review.path)).toEqual(['/mutate', '/validate']);
    const mutate = reviews[0]?.request;
    expect(mutate).toMatchObject({
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      name: 'one',
      namespace: 'hooked',
      operation: 'CREATE',
      userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      object: { metadata: { name: 'one', namespace: 'hooked' }, data: { a: 'b' } },
      oldObject: null,
      dryRun: false,
    });
    expect(reviews[1]?.request).toMatchObject({
      object: { metadata: { labels: { mutated: 'yes' } } },
    });

    reviews.length = 0;
    await fixture.kubectl(['-n', 'hooked', 'label', 'configmap', 'one', 'tier=web']);
    expect(reviews.map((review) => review.path)).toEqual(['/validate']);
    expect(reviews[0]?.request).toMatchObject({
      operation: 'UPDATE',
      object: { metadata: { labels: { mutated: 'yes', tier: 'web' } } },
      oldObject: { metadata: { labels: { mutated: 'yes' } } },
    });

    reviews.length = 0;
    await fixture.kubectl(['-n', 'plain', 'create', 'configmap', 'two']);
    expect(reviews).toEqual([]);

    const dry = await fixture.kubectl([
      '-n',
      'hooked',
      'create',
      'configmap',
      'dry',
      '--dry-run=server',
    ]);
    expect(dry.stdout).toBe('configmap/dry created (server dry run)\n');
    expect(reviews.map((review) => review.request.dryRun)).toEqual([true, true]);
    expect((await fixture.call('GET', '/api/v1/namespaces/hooked/configmaps/dry')).status).toBe(
      404,
    );
  });

  it('shows a denial as kubectl shows it, and stores nothing', async () => {
    const denied = await fixture.kubectl(
      ['-n', 'hooked', 'apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bad', labels: { deny: 'true' } },
      }),
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(
      'Error from server: error when creating "STDIN": admission webhook "validating.sgpods.test" denied the request: no deny label allowed',
    );
    expect((await fixture.call('GET', '/api/v1/namespaces/hooked/configmaps/bad')).status).toBe(
      404,
    );
  });

  it('refuses a dry run a webhook with side effects would see', async () => {
    const patched = await fixture.call(
      'PATCH',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/validating-test',
      {
        contentType: 'application/json-patch+json',
        body: '[{"op":"replace","path":"/webhooks/0/sideEffects","value":"Some"}]',
      },
    );
    expect(patched.status).toBe(200);
    const dry = await fixture.kubectl([
      '-n',
      'hooked',
      'create',
      'configmap',
      'dry',
      '--dry-run=server',
    ]);
    expect(dry.stderr).toContain(
      'admission webhook "validating.sgpods.test" does not support dry run',
    );
    await fixture.call(
      'PATCH',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/validating-test',
      {
        contentType: 'application/json-patch+json',
        body: '[{"op":"replace","path":"/webhooks/0/sideEffects","value":"None"}]',
      },
    );
  });

  it('fails closed when the webhook is down under Fail, and admits under Ignore', async () => {
    const down = 'https://127.0.0.1:9/mutate';
    const point = async (failurePolicy: string, url: string, ca = caBundle) => {
      const patched = await fixture.call(
        'PATCH',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/mutating-test',
        {
          contentType: 'application/json-patch+json',
          body: JSON.stringify([
            { op: 'replace', path: '/webhooks/0/failurePolicy', value: failurePolicy },
            { op: 'replace', path: '/webhooks/0/clientConfig', value: { url, caBundle: ca } },
          ]),
        },
      );
      expect(patched.status).toBe(200);
    };
    await point('Fail', down);
    const refused = await fixture.kubectl(['-n', 'hooked', 'create', 'configmap', 'while-down']);
    expect(refused.stderr).toContain(
      'Internal error occurred: failed calling webhook "mutating.sgpods.test": failed to call webhook: Post "https://127.0.0.1:9/mutate": dial tcp 127.0.0.1:9: connect: connection refused',
    );
    await point('Ignore', down);
    expect(
      (await fixture.kubectl(['-n', 'hooked', 'create', 'configmap', 'while-down'])).code,
    ).toBe(0);

    const otherCa = ensureServingCertificates(mkdtempSync(join(certificates, 'other-')), 'x', [
      '127.0.0.1',
    ]);
    await point(
      'Fail',
      `${webhookUrl}/mutate`,
      Buffer.from(otherCa.authority.certificatePem).toString('base64'),
    );
    const untrusted = await fixture.kubectl(['-n', 'hooked', 'create', 'configmap', 'untrusted']);
    expect(untrusted.stderr).toContain(
      'failed calling webhook "mutating.sgpods.test": failed to call webhook: Post "https://127.0.0.1:',
    );
    expect(untrusted.stderr).toContain('x509: certificate signed by unknown authority');
    await point('Fail', `${webhookUrl}/mutate`);
    expect((await fixture.kubectl(['-n', 'hooked', 'create', 'configmap', 'trusted'])).code).toBe(
      0,
    );
  });
});
