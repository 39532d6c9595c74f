/**
 * The leader's view of the cluster for branch ENIs: informers (list + watch, @kubernetes/client-node)
 * of pods, nodes, CNINodes and the `kube-system/amazon-vpc-cni` ConfigMap, each resumed after a
 * watch failure as client-go's reflector does. Objects are read as plain JSON.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from './logger.js';

export type Json = Record<string, unknown>;
type Cached = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

export const vpcCniConfigMap = 'amazon-vpc-cni';

/** A pod, node or CNINode as JSON with the fields read here. */
export interface PlainObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly deletionTimestamp?: unknown;
    readonly ownerReferences?: readonly { controller?: boolean; kind?: string }[];
  };
  readonly spec?: Json;
  readonly status?: Json;
  readonly data?: Record<string, string>;
}

export class ClusterInformers {
  readonly #pods: Cached;
  readonly #nodes: Cached;
  readonly #cniNodes: Cached;
  readonly #configMaps: Cached;
  #stopped = false;

  constructor(
    config: KubeConfig,
    private readonly logger: Logger,
  ) {
    const core = config.makeApiClient(CoreV1Api);
    const custom = config.makeApiClient(CustomObjectsApi);
    this.#pods = makeInformer(config, '/api/v1/pods', () => core.listPodForAllNamespaces());
    this.#nodes = makeInformer(config, '/api/v1/nodes', () => core.listNode());
    this.#cniNodes = makeInformer(
      config,
      '/apis/vpcresources.k8s.aws/v1alpha1/cninodes',
      () =>
        custom.listClusterCustomObject({
          group: 'vpcresources.k8s.aws',
          version: 'v1alpha1',
          plural: 'cninodes',
        }) as Promise<KubernetesListObject<KubernetesObject>>,
    );
    const selector = `metadata.name=${vpcCniConfigMap}`;
    this.#configMaps = new ListWatch(
      '/api/v1/namespaces/kube-system/configmaps',
      new Watch(config),
      () => core.listNamespacedConfigMap({ namespace: 'kube-system', fieldSelector: selector }),
      false,
      undefined,
      selector,
    );
  }

  get #all(): Cached[] {
    return [this.#pods, this.#nodes, this.#cniNodes, this.#configMaps];
  }

  async start(): Promise<void> {
    for (const informer of this.#all) {
      informer.on('error', (error: unknown) => {
        if (this.#stopped) return;
        this.logger.warn({ err: error }, 'watch failed; resuming');
        setTimeout(() => {
          if (!this.#stopped) informer.start().catch(() => undefined);
        }, 1000);
      });
    }
    await Promise.all(this.#all.map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#all.map((informer) => informer.stop()));
  }

  onPod(listener: (pod: PlainObject, deleted: boolean) => void): void {
    this.#on(this.#pods, listener);
  }

  onNode(listener: (node: PlainObject, deleted: boolean) => void): void {
    this.#on(this.#nodes, listener);
  }

  onCniNode(listener: (cniNode: PlainObject, deleted: boolean) => void): void {
    this.#on(this.#cniNodes, listener);
  }

  onVpcCniConfig(listener: (configMap: PlainObject, deleted: boolean) => void): void {
    this.#on(this.#configMaps, listener);
  }

  #on(informer: Cached, listener: (object: PlainObject, deleted: boolean) => void): void {
    informer.on('add', (object) => {
      listener(object, false);
    });
    informer.on('update', (object) => {
      listener(object, false);
    });
    informer.on('delete', (object) => {
      listener(object, true);
    });
  }

  pod(namespace: string, name: string): PlainObject | undefined {
    return this.#pods.get(name, namespace);
  }

  pods(): readonly PlainObject[] {
    return this.#pods.list();
  }

  podsOnNode(nodeName: string): PlainObject[] {
    return this.pods().filter((pod) => pod.spec?.nodeName === nodeName);
  }

  node(name: string): PlainObject | undefined {
    return this.#nodes.get(name);
  }

  nodes(): readonly PlainObject[] {
    return this.#nodes.list();
  }

  cniNode(name: string): PlainObject | undefined {
    return this.#cniNodes.get(name);
  }

  vpcCniConfig(): PlainObject | undefined {
    return this.#configMaps.get(vpcCniConfigMap, 'kube-system');
  }
}
