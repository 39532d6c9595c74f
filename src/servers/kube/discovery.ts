/**
 * Legacy discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`) from the resource
 * registry: kubectl falls back to these when a server does not answer aggregated discovery,
 * and every command works with them (reference/kubectl.md §0).
 */
import { apiVersionOf, standardVerbs, type ResourceRegistry } from './kube-resources.js';

/** Subresources whose kind is not their parent's. */
const subresourceKinds: Readonly<Record<string, Record<string, unknown>>> = {
  scale: { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
  token: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] },
  log: { kind: 'Pod', verbs: ['get'] },
};

export function discoveryDocument(registry: ResourceRegistry, path: string): unknown {
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  }
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...registry.groups()]
        .filter(([group]) => group !== '')
        .map(([name, versions]) => ({
          name,
          versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
          preferredVersion: { groupVersion: `${name}/${versions[0] ?? ''}`, version: versions[0] },
        })),
    };
  }
  const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (!match) return undefined;
  const group = match[2] ?? '';
  const version = match[1] ?? match[3] ?? '';
  const types = registry.all().filter((type) => type.group === group && type.version === version);
  if (types.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: types.flatMap((type) => [
      {
        name: type.resource,
        singularName: type.singular,
        namespaced: type.namespaced,
        kind: type.kind,
        verbs: [...(type.verbs ?? standardVerbs)],
        ...(type.shortNames ? { shortNames: type.shortNames } : {}),
        ...(type.categories ? { categories: type.categories } : {}),
      },
      ...(type.subresources ?? []).map((subresource) => ({
        name: `${type.resource}/${subresource}`,
        singularName: '',
        namespaced: type.namespaced,
        ...(subresourceKinds[subresource] ?? {
          kind: type.kind,
          verbs: ['get', 'patch', 'update'],
        }),
      })),
    ]),
  };
}
