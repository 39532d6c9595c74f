/**
 * Plain-object access to Kubernetes objects through @kubernetes/client-node's generic
 * `KubernetesObjectApi`: the controller edits objects as JSON (as the API sends them) rather than
 * through the generated model classes.
 */
import {
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

/** Object metadata as plain JSON (not the generated V1ObjectMeta class). */
export interface PlainMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  ownerReferences?: Record<string, unknown>[];
}

export type KubeJson = {
  apiVersion?: string;
  kind?: string;
  metadata?: PlainMeta;
} & Record<string, unknown>;

const asObject = (object: KubeJson) => object as unknown as KubernetesObject;

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export function statusCodeOf(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

export class KubeObjects {
  readonly #api: KubernetesObjectApi;

  constructor(config: KubeConfig) {
    this.#api = KubernetesObjectApi.makeApiClient(config);
  }

  /** The object, or undefined when it does not exist. */
  async read(ref: ObjectRef): Promise<KubeJson | undefined> {
    try {
      const header = {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      };
      const object = await this.#api.read(header);
      return JSON.parse(JSON.stringify(object)) as KubeJson;
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  async create(object: KubeJson): Promise<void> {
    await this.#api.create(asObject(object));
  }

  async replace(object: KubeJson): Promise<void> {
    await this.#api.replace(asObject(object));
  }

  /** A JSON merge patch: `object` names the target (apiVersion, kind, metadata) and the changes. */
  async mergePatch(object: KubeJson): Promise<void> {
    await this.#api.patch(
      asObject(object),
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
  }
}
