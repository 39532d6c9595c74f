/**
 * The webhook's serving certificate, made by the controller (no cert-manager needed): a CA and a
 * certificate for the webhook Service's names, kept in a Secret so every replica serves the same
 * one, and the CA written into the webhook configurations' `caBundle` so the API server trusts
 * it. The first replica to start makes the Secret; the others read it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import {
  certificateHosts,
  createCertificateAuthority,
  createServingCertificate,
  type CertificatePair,
} from '../adapters/tls/certificates.js';
import { KubeObjects, statusCodeOf, type KubeJson } from './kube-objects.js';
import type { Logger } from './logger.js';

export const webhookSecretName = 'vpc-resource-webhook-serving-cert';
export const mutatingWebhookConfigurationName = 'vpc-resource-mutating-webhook';
export const validatingWebhookConfigurationName = 'vpc-resource-validating-webhook';

export interface WebhookCertificates {
  readonly authorityPem: string;
  readonly serving: CertificatePair;
}

const decode = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : '', 'base64').toString('utf8');
const encode = (value: string) => Buffer.from(value).toString('base64');

function fromSecret(secret: KubeJson, hosts: readonly string[]): WebhookCertificates | undefined {
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const serving = { certificatePem: decode(data['tls.crt']), keyPem: decode(data['tls.key']) };
  const authorityPem = decode(data['ca.crt']);
  if (!serving.certificatePem || !serving.keyPem || !authorityPem) return undefined;
  const covered = certificateHosts(serving.certificatePem);
  return hosts.every((host) => covered.includes(host)) ? { authorityPem, serving } : undefined;
}

/** The Service's DNS names the API server may use for it. */
export function serviceHosts(service: { name: string; namespace: string }): string[] {
  const base = `${service.name}.${service.namespace}`;
  return [service.name, base, `${base}.svc`, `${base}.svc.cluster.local`];
}

export async function ensureWebhookCertificates(
  config: KubeConfig,
  service: { name: string; namespace: string },
): Promise<WebhookCertificates> {
  const objects = new KubeObjects(config);
  const hosts = serviceHosts(service);
  const ref = {
    apiVersion: 'v1',
    kind: 'Secret',
    name: webhookSecretName,
    namespace: service.namespace,
  };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const existing = await objects.read(ref);
    const usable = existing && fromSecret(existing, hosts);
    if (usable) return usable;
    const authority = createCertificateAuthority('vpc-resource-controller-webhook-ca');
    const serving = createServingCertificate(
      authority,
      `${service.name}.${service.namespace}.svc`,
      hosts,
    );
    const body: KubeJson = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: webhookSecretName,
        namespace: service.namespace,
        ...(existing?.metadata?.resourceVersion
          ? { resourceVersion: existing.metadata.resourceVersion }
          : {}),
      },
      data: {
        'ca.crt': encode(authority.certificatePem),
        'tls.crt': encode(serving.certificatePem),
        'tls.key': encode(serving.keyPem),
      },
    };
    try {
      if (existing) await objects.replace(body);
      else await objects.create(body);
      return { authorityPem: authority.certificatePem, serving };
    } catch (error) {
      // Another replica won the race: read what it wrote.
      if (statusCodeOf(error) !== 409) throw error;
    }
  }
  throw new Error(`could not settle the Secret ${service.namespace}/${webhookSecretName}`);
}

async function publishTo(
  objects: KubeObjects,
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration',
  name: string,
  caBundle: string,
  logger: Logger,
): Promise<void> {
  const configuration = await objects.read({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    name,
  });
  if (!configuration) {
    logger.warn({ kind, name }, 'webhook configuration not found');
    return;
  }
  const webhooks = (configuration.webhooks ?? []) as { clientConfig?: Record<string, unknown> }[];
  if (webhooks.every((webhook) => webhook.clientConfig?.caBundle === caBundle)) return;
  await objects.replace({
    ...configuration,
    webhooks: webhooks.map((webhook) => ({
      ...webhook,
      clientConfig: { ...webhook.clientConfig, caBundle },
    })),
  });
  logger.info({ kind, name }, 'published the webhook CA');
}

/** Writes the CA into both webhook configurations (absent ones are reported, not made). */
export async function publishCaBundle(
  config: KubeConfig,
  authorityPem: string,
  logger: Logger,
): Promise<void> {
  const objects = new KubeObjects(config);
  const caBundle = encode(authorityPem);
  await publishTo(
    objects,
    'MutatingWebhookConfiguration',
    mutatingWebhookConfigurationName,
    caBundle,
    logger,
  );
  await publishTo(
    objects,
    'ValidatingWebhookConfiguration',
    validatingWebhookConfigurationName,
    caBundle,
    logger,
  );
}
