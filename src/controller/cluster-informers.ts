/**
 * The leader's view of the cluster for branch ENIs: informers (list + watch, @kubernetes/client-node)
 * of pods, nodes, CNINodes and the `kube-system/amazon-vpc-cni` ConfigMap, each resumed after a
 * watch failure as client-go's reflector does. Objects are read as plain JSON.
 *
 * A list or a watch that gets no answer within `requestDeadlineMs` is given up and made again
 * (client-go bounds its requests too): a connection stalled on the way to the API server must
 * not leave a new leader waiting for ever with nothing in its caches. `start()` resolves once
 * every informer has listed.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
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

const requestDeadlineMs = 30_000;

function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let late = false;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`${what}: no answer in ${String(requestDeadlineMs / 1000)} s`));
    }, requestDeadlineMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (late) onLate?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** A watch whose response must start within the deadline; a late one is aborted on arrival. */
class DeadlineWatch extends Watch {
  override watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return withDeadline(super.watch(...args), `watch ${args[0]}`, (request) => {
      request.abort();
    });
  }
}

export class ClusterInformers {
  readonly #pods: Cached;
  readonly #nodes: Cached;
  readonly #cniNodes: Cached;
  readonly #configMaps: Cached;
  #stopped = false;
  readonly #listed = new Set<Cached>();

  constructor(
    config: KubeConfig,
    private readonly logger: Logger,
  ) {
    const core = config.makeApiClient(CoreV1Api);
    const custom = config.makeApiClient(CustomObjectsApi);
    const informer = (
      path: string,
      list: () => Promise<KubernetesListObject<KubernetesObject>>,
      fieldSelector?: string,
    ): Cached => {
      const made: Cached = new ListWatch(
        path,
        new DeadlineWatch(config),
        async () => {
          const listed = await withDeadline(list(), `list ${path}`);
          this.#listed.add(made);
          return listed;
        },
        false,
        undefined,
        fieldSelector,
      );
      return made;
    };
    this.#pods = informer('/api/v1/pods', () => core.listPodForAllNamespaces());
    this.#nodes = informer('/api/v1/nodes', () => core.listNode());
    this.#cniNodes = informer(
      '/apis/vpcresources.k8s.aws/v1alpha1/cninodes',
      () =>
        custom.listClusterCustomObject({
          group: 'vpcresources.k8s.aws',
          version: 'v1alpha1',
          plural: 'cninodes',
        }) as Promise<KubernetesListObject<KubernetesObject>>,
    );
    const selector = `metadata.name=${vpcCniConfigMap}`;
    this.#configMaps = informer(
      '/api/v1/namespaces/kube-system/configmaps',
      () => core.listNamespacedConfigMap({ namespace: 'kube-system', fieldSelector: selector }),
      selector,
    );
  }

  get #all(): Cached[] {
    return [this.#pods, this.#nodes, this.#cniNodes, this.#configMaps];
  }

  async start(): Promise<void> {
    for (const informer of this.#all) {
      informer.on('error', (error: unknown) => {
        // Before the first list, #startListed retries; after it, resume as a reflector does.
        if (this.#stopped || !this.#listed.has(informer)) return;
        this.logger.warn({ err: error }, 'watch failed; resuming');
        setTimeout(() => {
          if (!this.#stopped) this.#resume(informer);
        }, 1000);
      });
    }
    await Promise.all(this.#all.map((informer) => this.#startListed(informer)));
  }

  #resume(informer: Cached): void {
    informer.start().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'watch failed to resume; trying again');
      setTimeout(() => {
        if (!this.#stopped) this.#resume(informer);
      }, 1000);
    });
  }

  /** Starts an informer until its first list has come back. */
  async #startListed(informer: Cached): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt += 1) {
      try {
        await informer.start();
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'informer failed to start; trying again');
        if (this.#listed.has(informer)) {
          // Listed, but the watch did not start: resume it from the list's resourceVersion.
          setTimeout(() => {
            if (!this.#stopped) this.#resume(informer);
          }, 1000);
        }
      }
      if (this.#listed.has(informer)) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * attempt, 5000)));
    }
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
