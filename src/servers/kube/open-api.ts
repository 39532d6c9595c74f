/**
 * The OpenAPI v3 kubectl's client-side validation needs (reference/kubectl.md §2): an index of
 * group versions, and per group version one PATCH operation per kind that names its
 * group/version/kind and accepts `fieldValidation` (no requestBody, so kubectl builds patches
 * from its compiled-in types), and the kinds' schemas for `kubectl explain` (open-api-schemas.ts).
 * Custom resources appear as soon as their CRD is established.
 */
import { createHash } from 'node:crypto';
import type { ResourceRegistry } from './kube-resources.js';
import { componentSchemas } from './open-api-schemas.js';

function relativeName(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** A group version's content hash: clients cache its document until the hash changes. */
function hashOf(registry: ResourceRegistry, name: string): string {
  const types = registry
    .all()
    .filter((type) => relativeName(type.group, type.version) === name)
    .map((type) => ({ ...type, custom: type.custom ? type.custom.schema.schema : undefined }));
  return createHash('sha256')
    .update(JSON.stringify(types))
    .digest('hex')
    .slice(0, 32)
    .toUpperCase();
}

export async function openApiDocument(registry: ResourceRegistry, path: string): Promise<unknown> {
  if (path === '/openapi/v3') {
    const paths: Record<string, unknown> = {};
    for (const [group, versions] of registry.groups()) {
      for (const version of versions) {
        const name = relativeName(group, version);
        paths[name] = { serverRelativeURL: `/openapi/v3/${name}?hash=${hashOf(registry, name)}` };
      }
    }
    return { paths };
  }
  const match = /^\/openapi\/v3\/(api\/[^/]+|apis\/[^/]+\/[^/]+)$/.exec(path);
  if (!match?.[1]) return undefined;
  const types = registry
    .all()
    .filter((type) => relativeName(type.group, type.version) === match[1]);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const type of types) {
    const scope = type.namespaced ? '/namespaces/{namespace}' : '';
    paths[`/${match[1]}${scope}/${type.resource}/{name}`] = {
      patch: {
        'x-kubernetes-group-version-kind': {
          group: type.group,
          version: type.version,
          kind: type.kind,
        },
        parameters: [{ name: 'fieldValidation', in: 'query' }],
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas: await componentSchemas(types) },
  };
}
