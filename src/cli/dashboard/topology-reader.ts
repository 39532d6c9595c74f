/**
 * The dashboard's picture of the running sandbox, read the way `sgpods explain` reads it: the
 * cloud's committed state for the VPC, its subnets, instances, ENIs, RDS instances and groups;
 * the API server for nodes, pods, SecurityGroupPolicies and service accounts, judged per pod by
 * the same resolver the controller uses. Four list calls per read, whatever the pod count.
 */
import type { KubeHttpClient } from '../../adapters/kube/kube-http-client.js';
import { readPolicies } from '../../agent/policy-lookups.js';
import {
  groupEdges,
  type DatabaseView,
  type EniKind,
  type EniView,
  type GroupView,
  type InstanceView,
  type NodeView,
  type PodView,
  type RuleView,
  type Topology,
} from '../../core/dashboard/dashboard-model.js';
import { parseIpAddress } from '../../core/net/ip-address.js';
import { decodePodEniAnnotation, podEniAnnotation } from '../../core/policy/pod-eni-annotation.js';
import {
  resolvePodSecurityGroups,
  type ServiceAccountIdentity,
} from '../../core/policy/resolve-pod-security-groups.js';
import type { SecurityGroupPolicy } from '../../core/policy/security-group-policy.js';
import { formatRuleTraffic, type SecurityGroupRule } from '../../core/sg/rule.js';
import type { World } from '../../core/sg/world.js';
import { groupLabel } from '../format/explanation-sentences.js';
import type { LiveWorld } from '../sandbox/live-world.js';
import { listNodes, type KubeNodeView } from '../sandbox/sandbox-session.js';

interface PodObject {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec: { nodeName?: string; hostNetwork?: boolean; serviceAccountName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; message?: string }[];
  };
}

interface AccountObject {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
}

function peerText(world: World, rule: SecurityGroupRule): string {
  switch (rule.peer.kind) {
    case 'cidr':
      return rule.peer.cidr.text;
    case 'group':
      return groupLabel(world, rule.peer.groupId);
    case 'prefix-list':
      return rule.peer.prefixListId;
  }
}

function ruleView(world: World, rule: SecurityGroupRule): RuleView {
  return {
    traffic: formatRuleTraffic(rule),
    peer: peerText(world, rule),
    ...(rule.peer.kind === 'group' ? { peerGroupId: rule.peer.groupId } : {}),
    ...(rule.description ? { description: rule.description } : {}),
  };
}

/** A Deployment's pod is owned by `<deployment>-<pod-template-hash>`. */
function ownerOf(pod: PodObject): string | undefined {
  const owner = pod.metadata.ownerReferences?.find((reference) => reference.kind === 'ReplicaSet');
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (!owner || !hash || !owner.name.endsWith(`-${hash}`)) return undefined;
  return `deploy/${pod.metadata.namespace}/${owner.name.slice(0, -hash.length - 1)}`;
}

export class TopologyReader {
  constructor(private readonly live: LiveWorld) {}

  get #kube(): KubeHttpClient {
    return this.live.kube;
  }

  async read(): Promise<Topology> {
    this.live.refresh();
    const [nodes, pods, policies, accounts] = await Promise.all([
      listNodes(this.#kube),
      this.#kube.get<{ items?: PodObject[] }>('/api/v1/pods').then((list) => list.items ?? []),
      readPolicies(this.#kube),
      this.#kube
        .get<{ items?: AccountObject[] }>('/api/v1/serviceaccounts')
        .then((list) => list.items ?? []),
    ]);
    const { store } = this.live;
    const instanceIds = new Set(nodes.map((node) => node.providerId.split('/').pop() ?? ''));
    const vpcId =
      store.compute.instances().find((instance) => instanceIds.has(instance.instanceId))?.vpcId ??
      store.vpcs().find((vpc) => !vpc.isDefault)?.vpcId;
    const vpc = store.vpcs().find((row) => row.vpcId === vpcId);
    const nodeViews = nodes.map((node) => this.#nodeView(node));
    const groups = this.#groups(vpcId);
    const podViews = this.#pods(pods, policies, accounts, nodeViews);
    const databases = this.#databases(vpcId);
    const instances = this.#instances(vpcId, instanceIds);
    const shown = new Set(
      [
        ...nodeViews.flatMap((node) => node.enis),
        ...podViews.map((pod) => pod.eni),
        ...databases.map((db) => db.eni),
        ...instances.map((instance) => instance.eni),
      ].flatMap((eni) => (eni ? [eni.id] : [])),
    );
    return {
      // The cloud keeps the cluster it serves and its region.
      cluster: store.meta('clusterName') ?? '',
      region: store.meta('region') ?? '',
      vpc: vpc ? { id: vpc.vpcId, cidr: vpc.cidrBlock } : undefined,
      subnets: store
        .subnets()
        .filter((subnet) => subnet.vpcId === vpcId)
        .map((subnet) => ({
          id: subnet.subnetId,
          cidr: subnet.cidrBlock,
          availabilityZone: subnet.availabilityZone,
          public: subnet.mapPublicIpOnLaunch,
        })),
      nodes: nodeViews,
      pods: podViews,
      databases,
      instances,
      otherEnis: this.#otherEnis(vpcId, shown),
      groups,
      edges: groupEdges(groups),
    };
  }

  #eni(networkInterfaceId: string, kind?: EniKind): EniView | undefined {
    const { compute } = this.live.store;
    const row = compute.networkInterface(networkInterfaceId);
    if (!row) return undefined;
    const association = compute.associationOfBranch(networkInterfaceId);
    const attachment = compute.attachmentOfInterface(networkInterfaceId);
    const inferred: EniKind =
      row.interfaceType === 'trunk'
        ? 'trunk'
        : association
          ? 'branch'
          : attachment?.deviceIndex === 0
            ? 'primary'
            : attachment
              ? 'secondary'
              : 'other';
    return {
      id: networkInterfaceId,
      kind: kind ?? inferred,
      description: row.description,
      addresses: compute
        .addressesOf(networkInterfaceId)
        .slice()
        .sort((a, b) => Number(b.primary) - Number(a.primary))
        .map((item) => item.address),
      groupIds: compute.groupsOf(networkInterfaceId),
      subnetId: row.subnetId,
      ...(association ? { vlanId: association.vlanId } : {}),
    };
  }

  #instanceEnis(instanceId: string): EniView[] {
    return this.live.store.compute
      .attachmentsOf(instanceId)
      .slice()
      .sort((a, b) => a.deviceIndex - b.deviceIndex)
      .map((attachment) => this.#eni(attachment.networkInterfaceId))
      .filter((eni): eni is EniView => eni !== undefined);
  }

  #nodeView(node: KubeNodeView): NodeView {
    const instanceId = node.providerId.split('/').pop() ?? '';
    const instance = this.live.store.compute.instance(instanceId);
    return {
      name: node.name,
      instanceId,
      instanceType: node.instanceType,
      nodeGroup: node.nodeGroup ?? '',
      subnetId: instance?.subnetId ?? '',
      ip: node.internalIp,
      ready: node.ready,
      enis: this.#instanceEnis(instanceId),
    };
  }

  #groups(vpcId: string | undefined): GroupView[] {
    const { store, world } = this.live;
    return store
      .groups()
      .filter((group) => group.vpcId === vpcId)
      .map((group) => {
        const rules = world.group(group.groupId)?.rules ?? [];
        return {
          id: group.groupId,
          name: group.groupName,
          description: group.description,
          ingress: rules
            .filter((rule) => rule.direction === 'ingress')
            .map((rule) => ruleView(world, rule)),
          egress: rules
            .filter((rule) => rule.direction === 'egress')
            .map((rule) => ruleView(world, rule)),
        };
      });
  }

  #pods(
    pods: readonly PodObject[],
    policies: readonly SecurityGroupPolicy[],
    accounts: readonly AccountObject[],
    nodes: readonly NodeView[],
  ): PodView[] {
    const accountOf = (namespace: string, name: string): ServiceAccountIdentity | undefined => {
      const found = accounts.find(
        (item) => item.metadata.namespace === namespace && item.metadata.name === name,
      );
      return found ? { namespace, name, labels: found.metadata.labels ?? {} } : undefined;
    };
    // Pods not yet scheduled are listed too (node ''): a pod Pending for pod-eni is worth seeing.
    return pods
      .filter((pod) => !pod.spec.hostNetwork || pod.spec.nodeName)
      .map((pod) => {
        const { namespace, name } = pod.metadata;
        const inNamespace = policies.filter((policy) => policy.metadata.namespace === namespace);
        const resolved = resolvePodSecurityGroups({
          pod: {
            namespace,
            name,
            labels: pod.metadata.labels ?? {},
            ...(pod.spec.serviceAccountName
              ? { serviceAccountName: pod.spec.serviceAccountName }
              : {}),
          },
          serviceAccount: accountOf(namespace, pod.spec.serviceAccountName || 'default'),
          policies: inNamespace,
        });
        const owner = ownerOf(pod);
        return {
          ref: `pod/${namespace}/${name}`,
          namespace,
          name,
          node: pod.spec.nodeName ?? '',
          ip: pod.status.podIP ?? '',
          phase: pod.status.phase ?? 'Unknown',
          ...(owner ? { owner } : {}),
          ...this.#podNetwork(pod, nodes, resolved.ok && resolved.groupIds.length > 0),
          policies: resolved.ok
            ? resolved.judgements.map((judgement) => ({
                policy: judgement.name,
                outcome: judgement.outcome,
                reason: judgement.reason,
              }))
            : [{ policy: '', outcome: 'error', reason: resolved.error }],
        };
      });
  }

  #podNetwork(
    pod: PodObject,
    nodes: readonly NodeView[],
    matched: boolean,
  ): Pick<PodView, 'network' | 'eni' | 'networkReason'> {
    if (!pod.spec.nodeName) {
      const scheduled = pod.status.conditions?.find((item) => item.type === 'PodScheduled');
      return {
        network: 'none',
        networkReason: `not scheduled: ${scheduled?.message ?? 'waiting for the scheduler'}`,
      };
    }
    const node = nodes.find((item) => item.name === pod.spec.nodeName);
    if (pod.spec.hostNetwork) {
      const primary = node?.enis[0];
      return {
        network: 'host',
        ...(primary ? { eni: primary } : {}),
        networkReason: "hostNetwork: the pod is its node and carries the node's groups",
      };
    }
    return this.#branchNetwork(pod) ?? this.#nodeNetwork(pod, matched);
  }

  /** The branch ENI the pod-eni annotation names, when the cloud has it. */
  #branchNetwork(pod: PodObject): Pick<PodView, 'network' | 'eni' | 'networkReason'> | undefined {
    const annotation = pod.metadata.annotations?.[podEniAnnotation];
    const branch = annotation ? decodePodEniAnnotation(annotation)[0] : undefined;
    const branchEni = branch ? this.#eni(branch.eniId, 'branch') : undefined;
    if (!branch || !branchEni) return undefined;
    return {
      network: 'branch',
      eni: branchEni,
      networkReason: `branch ENI ${branch.eniId} (VLAN ${branch.vlanId}) on the node's trunk: the policy's groups apply`,
    };
  }

  /** The node ENI holding the pod's IP as a secondary address. */
  #nodeNetwork(
    pod: PodObject,
    matched: boolean,
  ): Pick<PodView, 'network' | 'eni' | 'networkReason'> {
    const address = parseIpAddress(pod.status.podIP ?? '');
    const holder = address ? this.live.world.interfaceAt(address) : undefined;
    const eni = holder ? this.#eni(holder.networkInterfaceId) : undefined;
    if (!eni) {
      return {
        network: 'none',
        networkReason: matched
          ? 'matched a policy but has no branch ENI yet: kept off the network (fail-closed)'
          : 'no address in the VPC yet',
      };
    }
    return {
      network: 'node',
      eni,
      networkReason: `no policy gave it groups: its IP is a secondary address of the node's ENI ${eni.id}, whose groups apply`,
    };
  }

  #databases(vpcId: string | undefined): DatabaseView[] {
    return this.live.store.rds
      .instances()
      .map((row) => {
        const eni = row.networkInterfaceId ? this.#eni(row.networkInterfaceId, 'rds') : undefined;
        return { row, eni };
      })
      .filter(({ eni }) => !eni || vpcId === undefined || this.#inVpc(eni, vpcId))
      .map(({ row, eni }) => ({
        ref: `rds/${row.identifier}`,
        identifier: row.identifier,
        engine: row.engine,
        status: row.status,
        endpoint: row.endpointAddress,
        port: row.port,
        subnetId: eni?.subnetId ?? '',
        ...(eni ? { eni } : {}),
      }));
  }

  /** The VPC's interfaces not drawn elsewhere; branch ENIs of pods that are gone are left out. */
  #otherEnis(vpcId: string | undefined, shown: ReadonlySet<string>): EniView[] {
    return this.live.store.compute
      .networkInterfaces()
      .filter((row) => row.vpcId === vpcId && !shown.has(row.networkInterfaceId))
      .map((row) => this.#eni(row.networkInterfaceId))
      .filter((eni): eni is EniView => eni !== undefined && eni.kind !== 'branch');
  }

  #inVpc(eni: EniView, vpcId: string): boolean {
    return this.live.store.compute.networkInterface(eni.id)?.vpcId === vpcId;
  }

  #instances(vpcId: string | undefined, nodeInstanceIds: ReadonlySet<string>): InstanceView[] {
    const { store } = this.live;
    return store.compute
      .instances()
      .filter(
        (instance) =>
          instance.vpcId === vpcId &&
          instance.state === 'running' &&
          !nodeInstanceIds.has(instance.instanceId),
      )
      .map((instance) => {
        const eni = this.#instanceEnis(instance.instanceId)[0];
        const name =
          store.tagsOf(instance.instanceId).find((tag) => tag.key === 'Name')?.value ??
          instance.instanceId;
        return {
          ref: instance.instanceId,
          instanceId: instance.instanceId,
          name,
          subnetId: instance.subnetId,
          ip: eni?.addresses[0] ?? '',
          ...(eni ? { eni } : {}),
        };
      });
  }
}
