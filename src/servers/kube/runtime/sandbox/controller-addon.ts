/**
 * The security-groups-for-pods controller as `sgpods up` installs it: the manifests of
 * `deploy/controller/` (RBAC, webhook Service and configurations, the Deployment) exactly as a
 * user would apply them to a real cluster, plus the ConfigMap they read the cluster's name, VPC
 * and region from.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { resourcePath } from '../../../../adapters/kube/kube-http-client.js';
import type { AddonObject } from '../cluster-addons.js';

export const controllerManifestDirectory = fileURLToPath(
  new URL('../../../../../deploy/controller', import.meta.url),
);

type Json = Record<string, unknown>;

/** The collection path of an object (kinds whose plural is the lower-cased kind + `s`). */
function collectionOf(object: Json): string {
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const kind = typeof object.kind === 'string' ? object.kind : '';
  const plural = `${kind.toLowerCase()}s`;
  const namespace = (object.metadata as { namespace?: string } | undefined)?.namespace;
  return resourcePath(apiVersion, plural, namespace);
}

export function controllerObjects(settings: {
  clusterName: string;
  vpcId: string;
  region: string;
}): AddonObject[] {
  const documents = readdirSync(controllerManifestDirectory)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) =>
      parseAllDocuments(readFileSync(join(controllerManifestDirectory, name), 'utf8')).map(
        (document) => document.toJS() as Json | null,
      ),
    )
    .filter((object): object is Json => object !== null);
  const config: Json = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'vpc-resource-controller-config', namespace: 'kube-system' },
    data: {
      'cluster-name': settings.clusterName,
      'vpc-id': settings.vpcId,
      'aws-region': settings.region,
    },
  };
  return [config, ...documents].map((body) => ({ path: collectionOf(body), body }));
}
