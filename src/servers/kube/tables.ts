/**
 * `meta.k8s.io/v1` Table responses (what `kubectl get` asks for): the columns the real
 * apiserver prints for each built-in kind, a CRD's `additionalPrinterColumns` for custom
 * resources, ages formatted on the server (kubectl prints cells verbatim), and each row's
 * object as PartialObjectMetadata so `--show-labels` works.
 */
import { humanDuration } from '../../core/kube/human-duration.js';
import { formatRequirements, selectorRequirements } from '../../core/kube/label-selector.js';
import type { PrinterColumn, ResourceType } from './kube-resources.js';
import type { KubeObject } from './storage/kube-store.js';

type Json = Record<string, unknown>;

/** The age of an RFC 3339 timestamp at `now`, or `<unknown>` when there is none. */
export function ageOf(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(now - at);
}
type Cell = string | number | boolean;

interface Column {
  readonly name: string;
  readonly type?: string;
  readonly format?: string;
  readonly priority?: number;
  readonly description?: string;
  readonly cell: (object: KubeObject, now: number) => Cell;
}

function at(value: unknown, path: readonly (string | number)[]): unknown {
  let current = value;
  for (const part of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[part];
  }
  return current;
}

const text = (value: unknown, empty = '<none>'): string =>
  typeof value === 'string' && value !== '' ? value : empty;
const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const entries = (value: unknown): number =>
  typeof value === 'object' && value !== null ? Object.keys(value).length : 0;

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (object) => object.metadata?.name ?? '',
};
const ageColumn: Column = {
  name: 'Age',
  type: 'string',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (object, now) => ageOf(object.metadata?.creationTimestamp, now),
};

/** A label selector as kubectl prints it: `app=x,tier in (a,b),!legacy`. */
export function selectorText(selector: unknown): string {
  const requirements = selectorRequirements(selector ?? {});
  return requirements.ok ? formatRequirements(requirements.requirements) : '<invalid>';
}

function containerColumns(templateSpec: (object: KubeObject) => unknown): Column[] {
  const containers = (object: KubeObject) => list(at(templateSpec(object), ['containers']));
  return [
    {
      name: 'Containers',
      priority: 1,
      cell: (object) =>
        containers(object)
          .map((container) => String(container.name))
          .join(','),
    },
    {
      name: 'Images',
      priority: 1,
      cell: (object) =>
        containers(object)
          .map((container) => String(container.image))
          .join(','),
    },
    {
      name: 'Selector',
      priority: 1,
      cell: (object) => selectorText(at(object, ['spec', 'selector'])),
    },
  ];
}

/** printPod's STATUS: the phase, a container's waiting or terminated reason, or Terminating. */
function podStatus(pod: KubeObject): { status: string; ready: number; restarts: number } {
  let status =
    text(at(pod, ['status', 'reason']), '') || text(at(pod, ['status', 'phase']), 'Pending');
  let ready = 0;
  let restarts = 0;
  for (const container of list(at(pod, ['status', 'containerStatuses'])).reverse()) {
    restarts += count(container.restartCount);
    const waiting = text(at(container, ['state', 'waiting', 'reason']), '');
    const terminated = at(container, ['state', 'terminated']) as Json | undefined;
    if (waiting) status = waiting;
    else if (terminated) {
      status =
        text(terminated.reason, '') ||
        (typeof terminated.signal === 'number'
          ? `Signal:${terminated.signal}`
          : `ExitCode:${count(terminated.exitCode)}`);
    } else if (container.ready === true && at(container, ['state', 'running'])) ready += 1;
  }
  if (pod.metadata?.deletionTimestamp) status = 'Terminating';
  return { status, ready, restarts };
}

function nodeStatus(node: KubeObject): string {
  const ready = list(at(node, ['status', 'conditions'])).find((c) => c.type === 'Ready');
  let status = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
  if (at(node, ['spec', 'unschedulable']) === true) status += ',SchedulingDisabled';
  return status;
}

function nodeAddress(type: string): (node: KubeObject) => string {
  return (node) =>
    text(list(at(node, ['status', 'addresses'])).find((a) => a.type === type)?.address);
}

/** `80/TCP,53/UDP` (with `:<nodePort>` for NodePort services), or `<none>`. */
function servicePorts(service: KubeObject): string {
  const ports = list(at(service, ['spec', 'ports'])).map((port) => {
    const nodePort = typeof port.nodePort === 'number' ? `:${port.nodePort}` : '';
    return `${String(port.port)}${nodePort}/${text(port.protocol, 'TCP')}`;
  });
  return ports.length > 0 ? ports.join(',') : '<none>';
}

/** `10.244.1.2:80,10.244.2.3:80 + 2 more...`, as kubectl shortens endpoint lists. */
function endpointsText(addresses: string[]): string {
  if (addresses.length === 0) return '<none>';
  const shown = addresses.slice(0, 3).join(',');
  return addresses.length > 3 ? `${shown} + ${addresses.length - 3} more...` : shown;
}

function endpointsOf(endpoints: KubeObject): string[] {
  return list(endpoints.subsets).flatMap((subset) => {
    const ports = list(subset.ports).map((port) => String(port.port));
    return list(subset.addresses).flatMap((address) =>
      ports.length > 0
        ? ports.map((port) => `${String(address.ip)}:${port}`)
        : [String(address.ip)],
    );
  });
}

const builtinColumns: Record<string, readonly Column[]> = {
  '/services': [
    nameColumn,
    { name: 'Type', cell: (o) => text(at(o, ['spec', 'type']), 'ClusterIP') },
    { name: 'Cluster-IP', cell: (o) => text(at(o, ['spec', 'clusterIP'])) },
    {
      name: 'External-IP',
      cell: (o) =>
        list(at(o, ['status', 'loadBalancer', 'ingress']))
          .map((ingress) => text(ingress.ip, '') || text(ingress.hostname, ''))
          .join(',') ||
        (at(o, ['spec', 'externalIPs']) as string[] | undefined)?.join(',') ||
        text(at(o, ['spec', 'externalName'])),
    },
    { name: 'Port(s)', cell: servicePorts },
    ageColumn,
    {
      name: 'Selector',
      priority: 1,
      cell: (o) => {
        const selector = at(o, ['spec', 'selector']) as Record<string, string> | undefined;
        const pairs = Object.entries(selector ?? {}).map(([key, value]) => `${key}=${value}`);
        return pairs.length > 0 ? pairs.sort().join(',') : '<none>';
      },
    },
  ],
  '/endpoints': [
    nameColumn,
    { name: 'Endpoints', cell: (o) => endpointsText(endpointsOf(o)) },
    ageColumn,
  ],
  'discovery.k8s.io/endpointslices': [
    nameColumn,
    { name: 'AddressType', cell: (o) => text(o.addressType) },
    {
      name: 'Ports',
      cell: (o) =>
        list(o.ports)
          .map((port) => String(port.port))
          .join(',') || '<unset>',
    },
    {
      name: 'Endpoints',
      cell: (o) =>
        endpointsText(
          list(o.endpoints).flatMap((endpoint) => list(endpoint.addresses).map(String)),
        ),
    },
    ageColumn,
  ],
  '/namespaces': [
    nameColumn,
    { name: 'Status', cell: (o) => text(at(o, ['status', 'phase']), 'Active') },
    ageColumn,
  ],
  '/nodes': [
    nameColumn,
    { name: 'Status', cell: nodeStatus },
    {
      name: 'Roles',
      cell: (node) =>
        Object.keys(node.metadata?.labels ?? {})
          .filter((key) => key.startsWith('node-role.kubernetes.io/'))
          .map((key) => key.slice('node-role.kubernetes.io/'.length))
          .join(',') || '<none>',
    },
    ageColumn,
    {
      name: 'Version',
      cell: (node) => text(at(node, ['status', 'nodeInfo', 'kubeletVersion']), ''),
    },
    { name: 'Internal-IP', priority: 1, cell: nodeAddress('InternalIP') },
    { name: 'External-IP', priority: 1, cell: nodeAddress('ExternalIP') },
    {
      name: 'OS-Image',
      priority: 1,
      cell: (n) => text(at(n, ['status', 'nodeInfo', 'osImage']), '<unknown>'),
    },
    {
      name: 'Kernel-Version',
      priority: 1,
      cell: (n) => text(at(n, ['status', 'nodeInfo', 'kernelVersion']), '<unknown>'),
    },
    {
      name: 'Container-Runtime',
      priority: 1,
      cell: (n) => text(at(n, ['status', 'nodeInfo', 'containerRuntimeVersion']), '<unknown>'),
    },
  ],
  '/pods': [
    nameColumn,
    {
      name: 'Ready',
      cell: (pod) => `${podStatus(pod).ready}/${list(at(pod, ['spec', 'containers'])).length}`,
    },
    { name: 'Status', cell: (pod) => podStatus(pod).status },
    { name: 'Restarts', type: 'string', cell: (pod) => String(podStatus(pod).restarts) },
    ageColumn,
    { name: 'IP', priority: 1, cell: (pod) => text(at(pod, ['status', 'podIP'])) },
    { name: 'Node', priority: 1, cell: (pod) => text(at(pod, ['spec', 'nodeName'])) },
    {
      name: 'Nominated Node',
      priority: 1,
      cell: (pod) => text(at(pod, ['status', 'nominatedNodeName'])),
    },
    {
      name: 'Readiness Gates',
      priority: 1,
      cell: (pod) =>
        list(at(pod, ['spec', 'readinessGates'])).length > 0
          ? String(list(at(pod, ['spec', 'readinessGates'])).length)
          : '<none>',
    },
  ],
  '/serviceaccounts': [
    nameColumn,
    { name: 'Secrets', type: 'integer', cell: (o) => list(o.secrets).length },
    ageColumn,
  ],
  '/secrets': [
    nameColumn,
    { name: 'Type', cell: (o) => text(o.type, 'Opaque') },
    { name: 'Data', type: 'integer', cell: (o) => entries(o.data) },
    ageColumn,
  ],
  '/configmaps': [
    nameColumn,
    { name: 'Data', type: 'integer', cell: (o) => entries(o.data) + entries(o.binaryData) },
    ageColumn,
  ],
  '/events': [
    {
      name: 'Last Seen',
      cell: (e, now) =>
        ageOf(
          e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp,
          now,
        ),
    },
    { name: 'Type', cell: (e) => text(e.type, '') },
    { name: 'Reason', cell: (e) => text(e.reason, '') },
    {
      name: 'Object',
      cell: (e) =>
        `${text(at(e, ['involvedObject', 'kind']), '').toLowerCase()}/${text(at(e, ['involvedObject', 'name']), '')}`,
    },
    {
      name: 'Subobject',
      priority: 1,
      cell: (e) => text(at(e, ['involvedObject', 'fieldPath']), ''),
    },
    {
      name: 'Source',
      priority: 1,
      cell: (e) => text(at(e, ['source', 'component']), '') || text(e.reportingComponent, ''),
    },
    { name: 'Message', cell: (e) => text(e.message, '').trim() },
    {
      name: 'First Seen',
      priority: 1,
      cell: (e, now) => ageOf(e.firstTimestamp ?? e.eventTime, now),
    },
    { name: 'Count', priority: 1, cell: (e) => String(count(e.count) || 1) },
    { ...nameColumn, priority: 1 },
  ],
  'apps/deployments': [
    nameColumn,
    {
      name: 'Ready',
      cell: (d) =>
        `${count(at(d, ['status', 'readyReplicas']))}/${count(at(d, ['spec', 'replicas']))}`,
    },
    {
      name: 'Up-to-date',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'updatedReplicas'])),
    },
    {
      name: 'Available',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'availableReplicas'])),
    },
    ageColumn,
    ...containerColumns((d) => at(d, ['spec', 'template', 'spec'])),
  ],
  'apps/replicasets': [
    nameColumn,
    { name: 'Desired', type: 'integer', cell: (r) => count(at(r, ['spec', 'replicas'])) },
    { name: 'Current', type: 'integer', cell: (r) => count(at(r, ['status', 'replicas'])) },
    { name: 'Ready', type: 'integer', cell: (r) => count(at(r, ['status', 'readyReplicas'])) },
    ageColumn,
    ...containerColumns((r) => at(r, ['spec', 'template', 'spec'])),
  ],
  'apps/daemonsets': [
    nameColumn,
    {
      name: 'Desired',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'desiredNumberScheduled'])),
    },
    {
      name: 'Current',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'currentNumberScheduled'])),
    },
    { name: 'Ready', type: 'integer', cell: (d) => count(at(d, ['status', 'numberReady'])) },
    {
      name: 'Up-to-date',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'updatedNumberScheduled'])),
    },
    {
      name: 'Available',
      type: 'integer',
      cell: (d) => count(at(d, ['status', 'numberAvailable'])),
    },
    {
      name: 'Node Selector',
      cell: (d) => {
        const selector = at(d, ['spec', 'template', 'spec', 'nodeSelector']) as
          Record<string, string> | undefined;
        const pairs = Object.entries(selector ?? {}).map(([key, value]) => `${key}=${value}`);
        return pairs.length > 0 ? pairs.join(',') : '<none>';
      },
    },
    ageColumn,
    ...containerColumns((d) => at(d, ['spec', 'template', 'spec'])),
  ],
  'coordination.k8s.io/leases': [
    nameColumn,
    { name: 'Holder', cell: (l) => text(at(l, ['spec', 'holderIdentity']), '') },
    ageColumn,
  ],
  'apiextensions.k8s.io/customresourcedefinitions': [
    nameColumn,
    { name: 'Created At', type: 'date', cell: (c) => text(c.metadata?.creationTimestamp, '') },
  ],
};
builtinColumns['events.k8s.io/events'] = builtinColumns['/events'] ?? [];

const createdAt: Column = {
  name: 'Created At',
  type: 'date',
  cell: (o) => text(o.metadata?.creationTimestamp, ''),
};
const subjectsOf = (kind: string) => (binding: KubeObject) =>
  list(binding.subjects)
    .filter((subject) => subject.kind === kind)
    .map((subject) =>
      kind === 'ServiceAccount'
        ? `${text(subject.namespace, '')}/${text(subject.name, '')}`
        : text(subject.name, ''),
    )
    .join(', ');
const bindingColumns: readonly Column[] = [
  nameColumn,
  {
    name: 'Role',
    cell: (binding) =>
      `${text(at(binding, ['roleRef', 'kind']), '')}/${text(at(binding, ['roleRef', 'name']), '')}`,
  },
  ageColumn,
  { name: 'Users', priority: 1, cell: subjectsOf('User') },
  { name: 'Groups', priority: 1, cell: subjectsOf('Group') },
  { name: 'ServiceAccounts', priority: 1, cell: subjectsOf('ServiceAccount') },
];
const webhookColumns: readonly Column[] = [
  nameColumn,
  { name: 'Webhooks', type: 'integer', cell: (o) => list(o.webhooks).length },
  ageColumn,
];
builtinColumns['rbac.authorization.k8s.io/roles'] = [nameColumn, createdAt];
builtinColumns['rbac.authorization.k8s.io/clusterroles'] = [nameColumn, createdAt];
builtinColumns['rbac.authorization.k8s.io/rolebindings'] = bindingColumns;
builtinColumns['rbac.authorization.k8s.io/clusterrolebindings'] = bindingColumns;
builtinColumns['admissionregistration.k8s.io/mutatingwebhookconfigurations'] = webhookColumns;
builtinColumns['admissionregistration.k8s.io/validatingwebhookconfigurations'] = webhookColumns;

/** A CRD column's simple JSONPath (`.spec.a.b`, `.items[0].x`) read from an object. */
function jsonPathValue(object: KubeObject, jsonPath: string): unknown {
  const parts = jsonPath
    .replace(/^\{?\.?/, '')
    .replace(/\}$/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((part): part is string => typeof part === 'string' && part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  return at(object, parts);
}

function customColumn(column: PrinterColumn): Column {
  return {
    name: column.name,
    type: column.type,
    ...(column.format ? { format: column.format } : {}),
    priority: column.priority,
    ...(column.description ? { description: column.description } : {}),
    cell: (object, now) => {
      const value = jsonPathValue(object, column.jsonPath);
      if (value === undefined || value === null) return '<none>';
      if (column.type === 'date') return ageOf(value, now);
      if (typeof value === 'object') return JSON.stringify(value);
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? value
        : '<none>';
    },
  };
}

function columnsOf(type: ResourceType, key: string): readonly Column[] {
  if (type.custom) return [nameColumn, ...type.custom.printerColumns.map(customColumn)];
  return builtinColumns[key] ?? [nameColumn, ageColumn];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Whether an Accept header asks for a Table (`as=Table;g=meta.k8s.io`). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part));
}

export function tableOf(
  type: ResourceType,
  key: string,
  objects: readonly KubeObject[],
  resourceVersion: string,
  includeObject: IncludeObject = 'Metadata',
): Json {
  const columns = columnsOf(type, key);
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((column) => ({
      name: column.name,
      type: column.type ?? 'string',
      format: column.format ?? '',
      description: column.description ?? '',
      priority: column.priority ?? 0,
    })),
    rows: objects.map((object) => ({
      cells: columns.map((column) => column.cell(object, now)),
      ...(includeObject === 'None'
        ? {}
        : {
            object:
              includeObject === 'Object'
                ? object
                : {
                    kind: 'PartialObjectMetadata',
                    apiVersion: 'meta.k8s.io/v1',
                    metadata: object.metadata ?? {},
                  },
          }),
    })),
  };
}
