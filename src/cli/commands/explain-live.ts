/**
 * `sgpods explain <source> <target>[:port][/protocol] [--probe]` on the home's running sandbox:
 * resolves both ends — a pod (which SecurityGroupPolicy matched it or why none did, its branch
 * ENI or its node's ENI, the enforcing mode), a Deployment (one of its running pods), an RDS
 * instance, an instance, an ENI, an address or a name the VPC resolver knows — then judges the
 * flow in the cloud's committed state with the evaluator the dataplane shares, and prints the
 * chain of reasons. `--probe` connects from inside the source's network namespace and says
 * whether reality agrees. Exit 0 allowed, 1 denied, 2 bad input.
 */
import { existsSync } from 'node:fs';
import { listNamespaces } from '../../adapters/netns/netns.js';
import { runCommand } from '../../adapters/exec/run-command.js';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
} from '../../adapters/kube/kube-http-client.js';
import { readPolicies, readServiceAccount } from '../../agent/policy-lookups.js';
import { InputError } from '../../core/errors.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { parseIpAddress, type IpAddress } from '../../core/net/ip-address.js';
import {
  decodePodEniAnnotation,
  podEniAnnotation,
  type BranchEniDetails,
} from '../../core/policy/pod-eni-annotation.js';
import {
  resolvePodSecurityGroups,
  type PolicyJudgement,
} from '../../core/policy/resolve-pod-security-groups.js';
import { evaluateFlow, type Evaluation, type Flow } from '../../core/sg/evaluator.js';
import {
  formatProtocol,
  hasPorts,
  isIcmp,
  parseProtocol,
  protocolNumbers,
} from '../../core/sg/protocol.js';
import type { World } from '../../core/sg/world.js';
import { cloudDatabasePath } from '../../servers/cloud/cloud-service.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { explanationJson } from '../format/explanation-json.js';
import { explanationText } from '../format/explanation-text.js';
import { LiveWorld } from '../sandbox/live-world.js';
import { kubeClientOf } from '../sandbox/sandbox-session.js';

export interface LiveExplainOptions {
  readonly home: string;
  readonly source: string;
  readonly target: string;
  readonly probe: boolean;
  readonly output: 'text' | 'json';
}

type Json = Record<string, unknown>;

/** One end of the flow, resolved, with the reasons that led there. */
export interface Endpoint {
  readonly reference: string;
  readonly address: IpAddress;
  readonly reasons: readonly string[];
  readonly facts: Json;
  /** The port the target listens on when none is given (RDS). */
  readonly defaultPort?: number;
}

interface TargetSpec {
  readonly reference: string;
  readonly port?: number;
  readonly protocol: string;
}

/** `<target>[:port][/protocol]`: the port and protocol are peeled off the end. */
export function parseTargetSpec(text: string): TargetSpec {
  const match = /^(.+?)(?::(\d{1,5}))?(?:\/(tcp|udp|icmp|all|-1))?$/.exec(text);
  if (!match?.[1]) throw new InputError(`not a target: "${text}"`);
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && port > 65535) throw new InputError(`port ${port} is out of range`);
  return {
    reference: match[1],
    ...(port !== undefined ? { port } : {}),
    protocol: match[3] ?? 'tcp',
  };
}

interface PodObject {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { nodeName?: string; hostNetwork?: boolean; serviceAccountName?: string };
  status: { phase?: string; podIP?: string };
}

function mustParse(text: string): IpAddress {
  const address = parseIpAddress(text);
  if (!address) throw new InputError(`"${text}" is not an IP address`);
  return address;
}

async function getOrNotFound<T>(kube: KubeHttpClient, path: string, what: string): Promise<T> {
  try {
    return await kube.get<T>(path);
  } catch (error) {
    if (isStatus(error, 'NotFound')) throw new InputError(`${what} not found`);
    throw error;
  }
}

async function enforcingMode(kube: KubeHttpClient): Promise<string> {
  const daemonSet = await kube
    .get<Json>(resourcePath('apps/v1', 'daemonsets', 'kube-system', 'aws-node'))
    .catch(() => undefined);
  const containers = ((daemonSet?.spec as Json | undefined)?.template as Json | undefined)?.spec as
    { containers?: { env?: { name: string; value?: string }[] }[] } | undefined;
  const env = containers?.containers?.[0]?.env ?? [];
  return env.find((item) => item.name === 'POD_SECURITY_GROUP_ENFORCING_MODE')?.value ?? 'strict';
}

interface PolicyView {
  readonly reasons: string[];
  readonly judgements: PolicyJudgement[];
  readonly matched: boolean;
}

/** Which SecurityGroupPolicy of the pod's namespace matched it, or why none did. */
async function policyView(live: LiveWorld, pod: PodObject): Promise<PolicyView> {
  const { namespace, name } = pod.metadata;
  const policies = await readPolicies(live.kube, namespace);
  const serviceAccount = await readServiceAccount(live.kube, namespace, pod.spec);
  const resolved = resolvePodSecurityGroups({
    pod: {
      namespace,
      name,
      labels: pod.metadata.labels ?? {},
      ...(pod.spec.serviceAccountName ? { serviceAccountName: pod.spec.serviceAccountName } : {}),
    },
    serviceAccount,
    policies,
  });
  const judgements = resolved.ok ? [...resolved.judgements] : [];
  const reasons: string[] = [];
  if (policies.length === 0) {
    reasons.push(`namespace ${namespace} has no SecurityGroupPolicy: the pod uses its node's ENI`);
  } else if (!resolved.ok) {
    reasons.push(`policies of ${namespace} cannot be judged: ${resolved.error}`);
  }
  for (const judgement of judgements) {
    reasons.push(`policy ${judgement.name}: ${judgement.outcome} — ${judgement.reason}`);
  }
  const matched = judgements.some((judgement) => judgement.outcome === 'matched');
  return { reasons, judgements, matched };
}

/** Which ENI carries the pod's traffic, and so whose groups apply. */
async function interfaceReasons(
  live: LiveWorld,
  pod: PodObject,
  address: IpAddress,
  view: PolicyView,
): Promise<{ reasons: string[]; branch: BranchEniDetails | undefined }> {
  const annotation = pod.metadata.annotations?.[podEniAnnotation];
  const branch = annotation ? decodePodEniAnnotation(annotation)[0] : undefined;
  if (pod.spec.hostNetwork) {
    return {
      reasons: [`hostNetwork: the pod is its node, ${live.interfaceText(address)}`],
      branch,
    };
  }
  if (branch) {
    const mode = await enforcingMode(live.kube);
    const effect =
      mode === 'strict'
        ? 'all its traffic leaves through the branch ENI'
        : 'traffic to its own node stays local';
    return {
      reasons: [
        `branch ENI ${live.interfaceText(address)} (VLAN ${branch.vlanId}, from the pod-eni annotation); POD_SECURITY_GROUP_ENFORCING_MODE=${mode}: ${effect}`,
      ],
      branch,
    };
  }
  const reasons: string[] = [];
  if (view.matched) {
    reasons.push(
      'matched a policy but has no branch ENI yet: the agent keeps it off the network (fail-closed)',
    );
  }
  reasons.push(
    live.world.interfaceAt(address)
      ? `node ENI ${live.interfaceText(address)} (the pod's IP is a secondary address of its node's interface): the node's groups apply`
      : `${address.text} is on no interface of the VPC`,
  );
  return { reasons, branch };
}

async function podEndpoint(live: LiveWorld, reference: string, pod: PodObject): Promise<Endpoint> {
  const { namespace, name } = pod.metadata;
  const podIp = pod.status.podIP;
  if (!podIp) {
    throw new InputError(
      `pod ${namespace}/${name} has no IP yet (phase ${pod.status.phase ?? 'unknown'})`,
    );
  }
  const address = mustParse(podIp);
  const node = pod.spec.nodeName ?? '?';
  const view = await policyView(live, pod);
  const carried = await interfaceReasons(live, pod, address, view);
  return {
    reference,
    address,
    reasons: [
      `pod ${namespace}/${name} (${podIp}) on node ${node}`,
      ...view.reasons,
      ...carried.reasons,
    ],
    facts: {
      kind: 'pod',
      namespace,
      name,
      node,
      podIp,
      policies: view.judgements.map((judgement) => ({ ...judgement })),
      branchEni: carried.branch?.eniId ?? null,
      networkInterfaceId: live.world.interfaceAt(address)?.networkInterfaceId ?? null,
    },
  };
}

async function deploymentEndpoint(
  live: LiveWorld,
  reference: string,
  namespace: string,
  name: string,
): Promise<Endpoint> {
  const deployment = await getOrNotFound<{ spec?: { selector?: { matchLabels?: Json } } }>(
    live.kube,
    resourcePath('apps/v1', 'deployments', namespace, name),
    `deployment ${namespace}/${name}`,
  );
  const labels = deployment.spec?.selector?.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(',');
  const list = await live.kube.get<{ items?: PodObject[] }>(
    `${resourcePath('v1', 'pods', namespace)}?labelSelector=${encodeURIComponent(selector)}`,
  );
  const running = (list.items ?? []).filter(
    (pod) => pod.status.phase === 'Running' && pod.status.podIP,
  );
  const [chosen] = running;
  if (!chosen) throw new InputError(`deployment ${namespace}/${name} has no running pod`);
  const endpoint = await podEndpoint(live, reference, chosen);
  return {
    ...endpoint,
    reasons: [
      `deployment ${namespace}/${name}: pod ${chosen.metadata.name} (1 of ${running.length} running)`,
      ...endpoint.reasons,
    ],
  };
}

function databaseEndpoint(live: LiveWorld, reference: string, identifier: string): Endpoint {
  const row = live.store.rds
    .instances()
    .find((db) => db.identifier.toLowerCase() === identifier.toLowerCase());
  if (!row) throw new InputError(`DBInstance ${identifier} not found.`);
  const primary = row.networkInterfaceId
    ? live.store.compute.addressesOf(row.networkInterfaceId).find((item) => item.primary)
    : undefined;
  if (!primary || row.status === 'creating' || row.status === 'deleting') {
    throw new InputError(`DB instance ${row.identifier} is ${row.status}: it has no address yet`);
  }
  const address = mustParse(primary.address);
  return {
    reference,
    address,
    defaultPort: row.port,
    reasons: [
      `RDS ${row.identifier} (${row.engine}, ${row.status}): ${row.endpointAddress}:${row.port} resolves to ${primary.address} inside the VPC`,
      `ENI ${live.interfaceText(address)}`,
    ],
    facts: {
      kind: 'rds',
      identifier: row.identifier,
      endpoint: row.endpointAddress,
      port: row.port,
      networkInterfaceId: row.networkInterfaceId ?? null,
    },
  };
}

function interfaceEndpoint(live: LiveWorld, reference: string, eniId: string): Endpoint {
  const eni = live.world.interfaceById(eniId);
  const address = eni?.addresses.find((item) => item.family === 4) ?? eni?.addresses[0];
  if (!eni || !address) {
    throw new InputError(`The networkInterface ID '${eniId}' does not exist`);
  }
  return {
    reference,
    address,
    reasons: [`ENI ${live.interfaceText(address)}, primary address ${address.text}`],
    facts: { kind: 'eni', networkInterfaceId: eniId, address: address.text },
  };
}

function instanceEndpoint(live: LiveWorld, reference: string, instanceId: string): Endpoint {
  const instance = live.store.compute.instance(instanceId);
  if (!instance) throw new InputError(`The instance ID '${instanceId}' does not exist`);
  const primary = live.store.compute
    .attachmentsOf(instanceId)
    .find((attachment) => attachment.deviceIndex === 0);
  if (!primary) throw new InputError(`instance ${instanceId} has no primary interface`);
  const endpoint = interfaceEndpoint(live, reference, primary.networkInterfaceId);
  return {
    ...endpoint,
    reasons: [`instance ${instanceId} (${instance.state}): its primary ENI`, ...endpoint.reasons],
    facts: { ...endpoint.facts, kind: 'instance', instanceId },
  };
}

function addressEndpoint(live: LiveWorld, reference: string, text: string): Endpoint {
  const address = mustParse(text);
  return {
    reference,
    address,
    reasons: [
      live.world.interfaceAt(address)
        ? `address ${text} on ENI ${live.interfaceText(address)}`
        : `address ${text} is on no interface of the VPC: only the other end's gate applies`,
    ],
    facts: { kind: 'address', address: text },
  };
}

function nameEndpoint(live: LiveWorld, reference: string, name: string): Endpoint {
  const resolved = live.directory.resolveName(name.toLowerCase().replace(/\.$/, ''));
  const first = resolved?.v4[0];
  if (!first) {
    throw new InputError(
      `${name} does not resolve in the VPC (the VPC resolver knows instance names, RDS endpoints, the EKS endpoint and the AWS service endpoints)`,
    );
  }
  const endpoint = addressEndpoint(live, reference, first);
  return {
    ...endpoint,
    reasons: [`${name} resolves to ${first} through the VPC resolver`, ...endpoint.reasons],
    facts: { ...endpoint.facts, kind: 'name', name },
  };
}

/** pod/, deploy/ and rds/ references; undefined for anything else. */
async function resolveNamedEndpoint(
  live: LiveWorld,
  reference: string,
): Promise<Endpoint | undefined> {
  const [kind, first, second, ...rest] = reference.split('/');
  if (rest.length > 0 || !first) return undefined;
  if ((kind === 'pod' || kind === 'po') && second) {
    const pod = await getOrNotFound<PodObject>(
      live.kube,
      resourcePath('v1', 'pods', first, second),
      `pod ${first}/${second}`,
    );
    return podEndpoint(live, reference, pod);
  }
  if ((kind === 'deploy' || kind === 'deployment') && second) {
    return deploymentEndpoint(live, reference, first, second);
  }
  if (kind === 'rds' && second === undefined) return databaseEndpoint(live, reference, first);
  return undefined;
}

export async function resolveEndpoint(live: LiveWorld, reference: string): Promise<Endpoint> {
  const named = await resolveNamedEndpoint(live, reference);
  if (named) return named;
  if (reference.includes('/')) {
    throw new InputError(
      `"${reference}": give pod/<namespace>/<name>, deploy/<namespace>/<name>, rds/<id>, i-…, eni-…, an IP address or a DNS name`,
    );
  }
  if (/^i-[0-9a-f]+$/.test(reference)) return instanceEndpoint(live, reference, reference);
  if (/^eni-[0-9a-f]+$/.test(reference)) return interfaceEndpoint(live, reference, reference);
  if (parseIpAddress(reference)) return addressEndpoint(live, reference, reference);
  return nameEndpoint(live, reference, reference);
}

/** A TCP connection from the namespace holding the source address; undefined for other protocols. */
async function probe(
  prefix: string,
  source: IpAddress,
  flow: Flow,
): Promise<{ connected: boolean; detail: string } | undefined> {
  if (flow.protocol !== protocolNumbers.tcp || flow.port === undefined) return undefined;
  let holder: string | undefined;
  for (const namespace of (await listNamespaces()).filter((name) => name.startsWith(prefix))) {
    const shown = await runCommand(['ip', '-n', namespace, '-o', 'addr', 'show'], {
      okExitCodes: [0, 1, 255],
    });
    if (new RegExp(`inet6? ${source.text.replaceAll('.', '\\.')}/`).test(shown.stdout)) {
      holder = namespace;
      break;
    }
  }
  if (!holder) return { connected: false, detail: `no namespace holds ${source.text}` };
  const script = `exec 3<>/dev/tcp/${flow.destination.text}/${String(flow.port)}`;
  const started = Date.now();
  const result = await runCommand(
    ['ip', 'netns', 'exec', holder, 'timeout', '3', 'bash', '--norc', '--noprofile', '-c', script],
    { okExitCodes: Array.from({ length: 256 }, (_, code) => code) },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(2);
  if (result.exitCode === 0) return { connected: true, detail: `connected in ${seconds} s` };
  if (/refused/i.test(result.stderr)) {
    return { connected: true, detail: `reached the host, which refused the port (${seconds} s)` };
  }
  return { connected: false, detail: `no answer within 3 s` };
}

function trafficText(flow: Flow): string {
  if (flow.protocol === 'all') return 'all traffic';
  const name = formatProtocol(flow.protocol);
  return flow.port === undefined ? name : `${name} port ${String(flow.port)}`;
}

/** What the sandbox is asked: the CLI's positional form, also the dashboard's explain box. */
export interface LiveQuestion {
  readonly source: string;
  readonly target: string;
  readonly probe: boolean;
}

export interface LiveAnswer {
  readonly allowed: boolean;
  readonly text: string;
  readonly json: Json;
}

/** Judges one flow in the live world (refreshed first) and says why, in both output forms. */
export async function explainLive(
  live: LiveWorld,
  prefix: string,
  question: LiveQuestion,
): Promise<LiveAnswer> {
  live.refresh();
  const target = parseTargetSpec(question.target);
  const source = await resolveEndpoint(live, question.source);
  const destination = await resolveEndpoint(live, target.reference);
  const protocol = parseProtocol(target.protocol === 'all' ? '-1' : target.protocol);
  const port = target.port ?? destination.defaultPort;
  if (hasPorts(protocol) && port === undefined) {
    throw new InputError(`give the port: ${target.reference}:<port>`);
  }
  const flow: Flow = {
    source: source.address,
    destination: destination.address,
    protocol,
    ...(hasPorts(protocol) ? { port } : {}),
    // icmp stands for ping (echo request).
    ...(isIcmp(protocol) ? { icmpType: 8, icmpCode: 0 } : {}),
  };
  const evaluation = evaluateFlow(live.world, flow);
  const probed = question.probe ? await probe(prefix, source.address, flow) : undefined;
  return {
    allowed: evaluation.verdict === 'allow',
    text: textOf(live.world, evaluation, {
      source,
      destination,
      probed,
      probeAsked: question.probe,
    }),
    json: jsonOf(live.world, evaluation, source, destination, probed),
  };
}

/** Opens the home's live world; a bad-input error when no sandbox is there. */
export function openLiveWorld(home: string): LiveWorld {
  const path = cloudDatabasePath(home);
  const kube = kubeClientOf(home);
  if (!existsSync(path) || !kube) {
    kube?.close();
    throw new InputError(
      `no sandbox in ${home}: start one with sgpods up (or give --from/--to and describe-* files for the offline form)`,
    );
  }
  return new LiveWorld(path, kube);
}

export async function runLiveExplain(options: LiveExplainOptions): Promise<ExitCode> {
  const live = openLiveWorld(options.home);
  try {
    const answer = await explainLive(live, kernelPrefix(options.home), options);
    process.stdout.write(
      options.output === 'json' ? `${JSON.stringify(answer.json, null, 2)}\n` : answer.text,
    );
    return answer.allowed ? exitCodes.success : exitCodes.negative;
  } finally {
    live.close();
  }
}

interface Ends {
  readonly source: Endpoint;
  readonly destination: Endpoint;
  readonly probed: { connected: boolean; detail: string } | undefined;
  readonly probeAsked: boolean;
}

function textOf(world: World, evaluation: Evaluation, ends: Ends): string {
  const { source, destination, probed, probeAsked } = ends;
  const verdict = evaluation.verdict === 'allow' ? 'ALLOWED' : 'DENIED';
  const lines = [
    `${verdict}: ${trafficText(evaluation.flow)} from ${source.reference} (${source.address.text}) to ${destination.reference} (${destination.address.text})`,
    ...source.reasons.map((reason, index) => `  ${index === 0 ? 'source ' : '       '} ${reason}`),
    ...destination.reasons.map(
      (reason, index) => `  ${index === 0 ? 'target ' : '       '} ${reason}`,
    ),
    ...explanationText(world, evaluation).trimEnd().split('\n').slice(1),
  ];
  if (probeAsked) {
    if (!probed) lines.push('  probe   only tcp flows are probed');
    else {
      const agrees = probed.connected === (evaluation.verdict === 'allow');
      lines.push(
        `  probe   from the source's namespace: ${probed.detail} — ${agrees ? 'reality agrees' : 'REALITY DISAGREES'}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function jsonOf(
  world: World,
  evaluation: Evaluation,
  source: Endpoint,
  destination: Endpoint,
  probed: { connected: boolean; detail: string } | undefined,
): Json {
  return {
    ...explanationJson(world, evaluation),
    source: { reference: source.reference, ...source.facts, reasons: source.reasons },
    target: {
      reference: destination.reference,
      ...destination.facts,
      reasons: destination.reasons,
    },
    ...(probed
      ? {
          probe: {
            ...probed,
            agrees: probed.connected === (evaluation.verdict === 'allow'),
          },
        }
      : {}),
  };
}
