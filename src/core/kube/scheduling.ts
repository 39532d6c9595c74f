/**
 * Where a pod may run, as kube-scheduler's filter plugins decide it: the node it names
 * (NodeName), `spec.unschedulable` (NodeUnschedulable), `NoSchedule`/`NoExecute` taints it does
 * not tolerate (TaintToleration), `nodeSelector` and required node affinity (NodeAffinity), and
 * requests against allocatable minus what the node's pods already request, extended resources
 * and the pod count included (NodeResourcesFit). When no node fits, the reasons are counted and
 * worded as the scheduler's FailedScheduling event words them
 * (`0/2 nodes are available: 2 Insufficient vpc.amazonaws.com/pod-eni.`).
 */
import { requirementMatches, type Operator } from './label-selector.js';
import { parseQuantity } from './quantity.js';

type Json = Record<string, unknown>;

export interface SchedulingNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Json[];
  readonly unschedulable: boolean;
  /** `status.allocatable`, as quantity strings. */
  readonly allocatable: Readonly<Record<string, string>>;
  /** The specs of the pods already bound to the node that still run. */
  readonly podSpecs: readonly Json[];
}

export type SchedulingResult =
  | { readonly fits: true; readonly nodes: readonly string[] }
  | { readonly fits: false; readonly message: string };

function objectAt(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}

function listAt(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(objectAt) : [];
}

/** A pod's effective requests: the sum over containers (requests default to limits), at least
 * the largest init container's, in thousandths. */
export function podRequests(podSpec: Json): Map<string, bigint> {
  const of = (container: Json) => {
    const resources = objectAt(container.resources);
    const merged = { ...objectAt(resources.limits), ...objectAt(resources.requests) };
    return Object.entries(merged).flatMap(([name, value]) => {
      const amount =
        typeof value === 'string' || typeof value === 'number'
          ? parseQuantity(String(value))
          : undefined;
      return amount === undefined ? [] : [[name, amount] as const];
    });
  };
  const total = new Map<string, bigint>();
  for (const container of listAt(podSpec.containers)) {
    for (const [name, amount] of of(container)) total.set(name, (total.get(name) ?? 0n) + amount);
  }
  for (const container of listAt(podSpec.initContainers)) {
    for (const [name, amount] of of(container)) {
      if (amount > (total.get(name) ?? 0n)) total.set(name, amount);
    }
  }
  return total;
}

function tolerates(toleration: Json, taint: Json): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === 'Exists') return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

function untoleratedTaint(podSpec: Json, node: SchedulingNode): Json | undefined {
  const tolerations = listAt(podSpec.tolerations);
  return node.taints.find(
    (taint) =>
      (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') &&
      !tolerations.some((toleration) => tolerates(toleration, taint)),
  );
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

const affinityOperators = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']);

/** One `matchExpressions` requirement of node affinity: a label requirement (Gt and Lt too). */
function expressionMatches(expression: Json, labels: Readonly<Record<string, string>>): boolean {
  const operator = text(expression.operator);
  if (!affinityOperators.has(operator)) return false;
  return requirementMatches(
    {
      key: text(expression.key),
      operator: operator as Operator,
      values: (expression.values as string[] | undefined) ?? [],
    },
    labels,
  );
}

function affinityMatches(podSpec: Json, node: SchedulingNode): boolean {
  const selector = objectAt(podSpec.nodeSelector) as Record<string, string>;
  if (Object.entries(selector).some(([key, value]) => node.labels[key] !== value)) return false;
  const required = objectAt(
    objectAt(objectAt(podSpec.affinity).nodeAffinity)
      .requiredDuringSchedulingIgnoredDuringExecution,
  );
  const terms = listAt(required.nodeSelectorTerms);
  if (terms.length === 0) return true;
  // Terms are ORed; a term's expressions are ANDed (matchFields: metadata.name only).
  return terms.some((term) => {
    const expressions = listAt(term.matchExpressions);
    const fields = listAt(term.matchFields);
    return (
      (expressions.length > 0 || fields.length > 0) &&
      expressions.every((expression) => expressionMatches(expression, node.labels)) &&
      fields.every((field) =>
        expressionMatches({ ...field, key: 'metadata.name' }, { 'metadata.name': node.name }),
      )
    );
  });
}

/** The resources that do not fit (`Insufficient <name>`, `Too many pods`), empty when all fit. */
function resourceShortfalls(podSpec: Json, node: SchedulingNode): string[] {
  const reasons: string[] = [];
  const allocatablePods = parseQuantity(node.allocatable.pods ?? '110') ?? 0n;
  if (BigInt(node.podSpecs.length + 1) * 1000n > allocatablePods) reasons.push('Too many pods');
  const used = new Map<string, bigint>();
  for (const spec of node.podSpecs) {
    for (const [name, amount] of podRequests(spec)) used.set(name, (used.get(name) ?? 0n) + amount);
  }
  for (const [name, amount] of podRequests(podSpec)) {
    if (amount === 0n) continue;
    const allocatable = parseQuantity(node.allocatable[name] ?? '0') ?? 0n;
    if ((used.get(name) ?? 0n) + amount > allocatable) reasons.push(`Insufficient ${name}`);
  }
  return reasons;
}

/**
 * Why the pod may not go to the node, resources aside (what the DaemonSet controller asks before
 * it creates a node's pod); empty when it may.
 */
export function placementReasons(podSpec: Json, node: SchedulingNode): string[] {
  const nodeName = typeof podSpec.nodeName === 'string' ? podSpec.nodeName : '';
  if (nodeName && nodeName !== node.name) return ["node(s) didn't match the requested node name"];
  if (node.unschedulable) {
    const tolerated = listAt(podSpec.tolerations).some((toleration) =>
      tolerates(toleration, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }),
    );
    if (!tolerated) return ['node(s) were unschedulable'];
  }
  const taint = untoleratedTaint(podSpec, node);
  if (taint) {
    return [`node(s) had untolerated taint {${text(taint.key)}: ${text(taint.value)}}`];
  }
  if (!affinityMatches(podSpec, node)) return ["node(s) didn't match Pod's node affinity/selector"];
  return [];
}

/** Why a node does not fit the pod, in the scheduler's words; empty when it fits. */
export function unfitReasons(podSpec: Json, node: SchedulingNode): string[] {
  const placement = placementReasons(podSpec, node);
  return placement.length > 0 ? placement : resourceShortfalls(podSpec, node);
}

/** The nodes a pod fits on, or the FailedScheduling message. */
export function schedule(podSpec: Json, nodes: readonly SchedulingNode[]): SchedulingResult {
  const counts = new Map<string, number>();
  const fitting: string[] = [];
  for (const node of nodes) {
    const reasons = unfitReasons(podSpec, node);
    if (reasons.length === 0) fitting.push(node.name);
    for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  if (fitting.length > 0) return { fits: true, nodes: fitting };
  const reasons = [...counts].map(([reason, count]) => `${count} ${reason}`).sort();
  const detail = reasons.length > 0 ? `: ${reasons.join(', ')}` : '';
  return { fits: false, message: `0/${nodes.length} nodes are available${detail}.` };
}
