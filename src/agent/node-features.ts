/**
 * What aws-node tells the resource controller about its node (cni-sg.md A2): with
 * `ENABLE_POD_ENI=true` on an instance type that can trunk, the `SecurityGroupsForPods` feature
 * in the node's CNINode and, once EC2 shows the trunk attached, the label
 * `vpc.amazonaws.com/has-trunk-attached=true` (what pre-1.15 aws-node set, and what eksctl and
 * the EKS guide still look for). With `false` both go (the trunk stays, as upstream). On a type
 * that cannot trunk nothing is asked for, and the agent says why once.
 *
 * Reconciled at start and every `intervalMs` (sooner while a trunk is awaited): the CNINode is
 * the controller's to create, so a missing one is simply waited for.
 */
import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../adapters/kube/kube-http-client.js';
import {
  hasTrunkAttachedLabel,
  securityGroupsForPodsFeature,
} from '../core/controller/branch-eni.js';
import { instanceTypeLimits } from '../core/instance-types/instance-types.js';
import { PeriodicTask } from './periodic-task.js';

type Feature = { name?: string; value?: string };
type CniNode = KubeResource & { spec?: { features?: Feature[] } };

export interface NodeFeaturesOptions {
  readonly kube: KubeHttpClient;
  readonly ec2: EC2Client;
  readonly nodeName: string;
  readonly instanceId: string;
  readonly instanceType: string;
  readonly enablePodEni: boolean;
  readonly log: (message: string) => void;
  readonly intervalMs?: number;
}

const cniNodePath = (name: string) =>
  resourcePath('vpcresources.k8s.aws/v1alpha1', 'cninodes', undefined, name);

export class NodeFeatures {
  readonly #said = new Set<string>();
  readonly #task = new PeriodicTask(
    async () => ((await this.reconcile()) ? (this.options.intervalMs ?? 30_000) : 2_000),
    (error) => {
      this.#sayOnce(`node features: ${error instanceof Error ? error.message : String(error)}`);
    },
    5_000,
  );

  constructor(private readonly options: NodeFeaturesOptions) {}

  /** Whether this node asks for security groups for pods. */
  get wanted(): boolean {
    return (
      this.options.enablePodEni && instanceTypeLimits(this.options.instanceType)?.trunking === true
    );
  }

  start(): void {
    if (this.options.enablePodEni && !this.wanted) {
      this.options.log(
        `ENABLE_POD_ENI is true, but instance type ${this.options.instanceType} does not support trunking: no security groups for pods on this node`,
      );
    }
    this.#task.start();
  }

  close(): void {
    this.#task.close();
  }

  #sayOnce(message: string): void {
    if (this.#said.has(message)) return;
    this.#said.add(message);
    this.options.log(message);
  }

  /** One pass; false while something is still awaited (the CNINode, the trunk). */
  async reconcile(): Promise<boolean> {
    const { kube, nodeName, enablePodEni } = this.options;
    // A type that cannot trunk is left alone, whatever labels a person put on it.
    if (enablePodEni && !this.wanted) return true;
    let cniNode: CniNode | undefined;
    try {
      cniNode = await kube.get<CniNode>(cniNodePath(nodeName));
    } catch (error) {
      if (!isStatus(error, 'NotFound')) throw error;
    }
    if (!enablePodEni) {
      if (cniNode) await this.#setFeature(cniNode, false);
      await this.#setLabel(undefined);
      return true;
    }
    if (!cniNode) {
      this.#sayOnce(`waiting for CNINode ${nodeName} (the controller makes it)`);
      return false;
    }
    await this.#setFeature(cniNode, true);
    if (!(await this.#trunkAttached())) {
      this.#sayOnce('waiting for the trunk ENI');
      return false;
    }
    await this.#setLabel('true');
    return true;
  }

  async #setFeature(cniNode: CniNode, wanted: boolean): Promise<void> {
    const features = cniNode.spec?.features ?? [];
    const has = features.some((feature) => feature.name === securityGroupsForPodsFeature);
    if (has === wanted) return;
    const next = wanted
      ? [...features, { name: securityGroupsForPodsFeature }]
      : features.filter((feature) => feature.name !== securityGroupsForPodsFeature);
    // The resourceVersion makes the patch fail on a concurrent change (upstream's optimistic lock).
    await this.options.kube.mergePatch(cniNodePath(this.options.nodeName), {
      metadata: { resourceVersion: cniNode.metadata.resourceVersion },
      spec: { features: next },
    });
    this.options.log(
      `${wanted ? 'added' : 'removed'} feature ${securityGroupsForPodsFeature} ${wanted ? 'to' : 'from'} CNINode ${this.options.nodeName}`,
    );
  }

  async #setLabel(value: 'true' | undefined): Promise<void> {
    const path = resourcePath('v1', 'nodes', undefined, this.options.nodeName);
    const node = await this.options.kube.get(path);
    const current = node.metadata.labels?.[hasTrunkAttachedLabel];
    if (current === value) return;
    await this.options.kube.mergePatch(path, {
      metadata: { labels: { [hasTrunkAttachedLabel]: value ?? null } },
    });
    this.options.log(
      value
        ? `labelled ${hasTrunkAttachedLabel}=${value}`
        : `removed label ${hasTrunkAttachedLabel}`,
    );
  }

  async #trunkAttached(): Promise<boolean> {
    const { NetworkInterfaces = [] } = await this.options.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'attachment.instance-id', Values: [this.options.instanceId] },
          { Name: 'interface-type', Values: ['trunk'] },
        ],
      }),
    );
    return NetworkInterfaces.some((eni) => eni.Attachment?.Status === 'attached');
  }
}
