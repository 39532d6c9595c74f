/**
 * What the dashboard shows, as the server sends it and the page draws it: the VPC and what runs
 * in it (subnets, nodes with their ENIs, pods with the ENI their traffic uses and the policy
 * judgements behind it, RDS instances, other instances), the security groups with the
 * references between them, and flow-log records named after the endpoints they join.
 * Pure data and pure functions: the browser bundle imports it too.
 */
import type { FlowRecord } from '../flows/flow-records.js';

/** One rule: its traffic (`tcp 5432`), its peer as people read it, and the group it references. */
export interface RuleView {
  readonly traffic: string;
  readonly peer: string;
  readonly peerGroupId?: string;
  readonly description?: string;
}

export interface GroupView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly ingress: readonly RuleView[];
  readonly egress: readonly RuleView[];
}

/** A reference between groups: traffic from members of `from` admitted (or sent) by `to`'s rule. */
export interface GroupEdge {
  readonly from: string;
  readonly to: string;
  readonly direction: 'ingress' | 'egress';
  readonly traffic: string;
}

export type EniKind = 'primary' | 'trunk' | 'branch' | 'secondary' | 'rds' | 'other';

export interface EniView {
  readonly id: string;
  readonly kind: EniKind;
  readonly description: string;
  readonly addresses: readonly string[];
  readonly groupIds: readonly string[];
  readonly subnetId: string;
  readonly vlanId?: number;
}

export interface PolicyReason {
  readonly policy: string;
  readonly outcome: string;
  readonly reason: string;
}

/** How a pod reaches the VPC: its own branch ENI, its node's ENI, or the node itself. */
export type PodNetwork = 'branch' | 'node' | 'host' | 'none';

export interface PodView {
  /** `pod/<namespace>/<name>`, the reference `sgpods explain` takes. */
  readonly ref: string;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly phase: string;
  /** `deploy/<namespace>/<name>` when a Deployment owns the pod (through its ReplicaSet). */
  readonly owner?: string;
  readonly network: PodNetwork;
  /** The ENI whose groups apply to the pod's traffic (its branch ENI, or its node's). */
  readonly eni?: EniView;
  /** Every SecurityGroupPolicy of the namespace, judged for this pod. */
  readonly policies: readonly PolicyReason[];
  /** Why the pod has the network it has, in a sentence. */
  readonly networkReason: string;
}

export interface NodeView {
  readonly name: string;
  readonly instanceId: string;
  readonly instanceType: string;
  readonly nodeGroup: string;
  readonly subnetId: string;
  readonly ip: string;
  readonly ready: boolean;
  /** The instance's own interfaces (primary first, then the trunk and any secondary ones). */
  readonly enis: readonly EniView[];
}

export interface DatabaseView {
  readonly ref: string;
  readonly identifier: string;
  readonly engine: string;
  readonly status: string;
  readonly endpoint: string;
  readonly port: number;
  readonly subnetId: string;
  readonly eni?: EniView;
}

/** An instance that is not a node (the workstation). */
export interface InstanceView {
  readonly ref: string;
  readonly instanceId: string;
  readonly name: string;
  readonly subnetId: string;
  readonly ip: string;
  readonly eni?: EniView;
}

export interface SubnetView {
  readonly id: string;
  readonly cidr: string;
  readonly availabilityZone: string;
  readonly public: boolean;
}

export interface Topology {
  readonly cluster: string;
  readonly region: string;
  readonly vpc: { readonly id: string; readonly cidr: string } | undefined;
  readonly subnets: readonly SubnetView[];
  readonly nodes: readonly NodeView[];
  readonly pods: readonly PodView[];
  readonly databases: readonly DatabaseView[];
  readonly instances: readonly InstanceView[];
  /** Interfaces of the VPC that no node, pod, database or instance above holds (the EKS API's). */
  readonly otherEnis: readonly EniView[];
  readonly groups: readonly GroupView[];
  readonly edges: readonly GroupEdge[];
}

/** An end of a flow, named after what holds the address. */
export interface FlowEnd {
  readonly address: string;
  readonly port: number;
  /** `pod/…`, `rds/…`, `node/…` or `i-…` when known. */
  readonly ref?: string;
  readonly label: string;
}

export interface FlowView {
  /** Increasing per server: the page keys and orders by it. */
  readonly sequence: number;
  readonly interfaceId: string;
  readonly action: 'ACCEPT' | 'REJECT';
  readonly protocol: string;
  readonly source: FlowEnd;
  readonly destination: FlowEnd;
  readonly packets: number;
  readonly bytes: number;
  /** Seconds since the epoch. */
  readonly start: number;
  readonly end: number;
  /** Milliseconds since the epoch at which the server read the record from the flow log. */
  readonly readAt: number;
}

/** The explain box's answer: the CLI's own text, and its verdict for the page to colour. */
export interface ExplainAnswer {
  readonly verdict: 'allowed' | 'denied' | 'error';
  readonly text: string;
}

/** Every group reference in the rules, merged per (from, to, direction). */
export function groupEdges(groups: readonly GroupView[]): GroupEdge[] {
  const edges = new Map<
    string,
    { from: string; to: string; direction: 'ingress' | 'egress'; traffic: string[] }
  >();
  for (const group of groups) {
    for (const direction of ['ingress', 'egress'] as const) {
      for (const rule of group[direction]) {
        if (!rule.peerGroupId) continue;
        const [from, to] =
          direction === 'ingress' ? [rule.peerGroupId, group.id] : [group.id, rule.peerGroupId];
        const key = `${from} ${to} ${direction}`;
        const edge = edges.get(key) ?? { from, to, direction, traffic: [] };
        if (!edge.traffic.includes(rule.traffic)) edge.traffic.push(rule.traffic);
        edges.set(key, edge);
      }
    }
  }
  return [...edges.values()].map((edge) => ({ ...edge, traffic: edge.traffic.join(', ') }));
}

/** Address → what holds it; pods first, so a pod's secondary address on its node ENI names the pod. */
export function addressIndex(topology: Topology): Map<string, { ref: string; label: string }> {
  const holders: { ref: string; label: string; addresses: readonly string[] }[] = [
    ...topology.pods
      .filter((pod) => pod.network !== 'host')
      .map((pod) => ({ ref: pod.ref, label: `${pod.namespace}/${pod.name}`, addresses: [pod.ip] })),
    ...topology.databases.map((db) => ({
      ref: db.ref,
      label: db.ref,
      addresses: db.eni?.addresses ?? [],
    })),
    ...topology.nodes.map((node) => ({
      ref: `node/${node.name}`,
      label: `node ${node.name}`,
      addresses: node.enis.flatMap((eni) => eni.addresses),
    })),
    ...topology.instances.map((instance) => ({
      ref: instance.ref,
      label: instance.name,
      addresses: instance.eni?.addresses ?? [],
    })),
    ...topology.otherEnis.map((eni) => ({
      ref: eni.id,
      label: eni.description || eni.id,
      addresses: eni.addresses,
    })),
  ];
  const index = new Map<string, { ref: string; label: string }>();
  for (const { ref, label, addresses } of holders) {
    for (const address of addresses) {
      if (address && !index.has(address)) index.set(address, { ref, label });
    }
  }
  return index;
}

const protocolNames: Readonly<Record<number, string>> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'icmpv6',
};

export function flowView(
  record: FlowRecord,
  index: ReadonlyMap<string, { ref: string; label: string }>,
  stamp: { sequence: number; readAt: number },
): FlowView {
  const end = (address: string, port: number): FlowEnd => {
    const known = index.get(address);
    return known
      ? { address, port, ref: known.ref, label: known.label }
      : { address, port, label: address };
  };
  return {
    sequence: stamp.sequence,
    readAt: stamp.readAt,
    interfaceId: record.interfaceId,
    action: record.action,
    protocol: protocolNames[record.protocol] ?? String(record.protocol),
    source: end(record.source, record.sourcePort),
    destination: end(record.destination, record.destinationPort),
    packets: record.packets,
    bytes: record.bytes,
    start: record.start,
    end: record.end,
  };
}
