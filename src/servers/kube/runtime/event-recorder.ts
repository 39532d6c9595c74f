/**
 * Events as Kubernetes components record them (core/v1 `Event`): one object per involved
 * object, reason and message; a repeat bumps `count` and `lastTimestamp` instead of adding a
 * new one, which is what `kubectl describe` shows as `(x4 over 2m)`.
 */
import type { KubeHttpClient, KubeResource } from '../../../adapters/kube/kube-http-client.js';
import { resourcePath } from '../../../adapters/kube/kube-http-client.js';

export interface EventSource {
  readonly component: string;
  readonly host?: string;
}

interface Recorded {
  readonly name: string;
  count: number;
  readonly firstTimestamp: string;
}

export class EventRecorder {
  readonly #recorded = new Map<string, Recorded>();
  #sequence = 0;

  constructor(
    readonly client: KubeHttpClient,
    readonly source: EventSource,
    readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Records an event; never throws (an event lost is not worth failing the caller for). */
  record(
    object: KubeResource,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    fieldPath?: string,
  ): void {
    void this.#write(object, type, reason, message, fieldPath).catch(this.onError);
  }

  async #write(
    object: KubeResource,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    fieldPath: string | undefined,
  ): Promise<void> {
    const { namespace = 'default', name = '', uid = '' } = object.metadata;
    const now = new Date();
    const stamp = `${now.toISOString().slice(0, 19)}Z`;
    const key = [uid, fieldPath ?? '', type, reason, message].join('\u0000');
    const previous = this.#recorded.get(key);
    if (previous) {
      previous.count += 1;
      await this.client.mergePatch(resourcePath('v1', 'events', namespace, previous.name), {
        count: previous.count,
        lastTimestamp: stamp,
      });
      return;
    }
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000);
    const eventName = `${name}.${nanos.toString(16)}`;
    const recorded: Recorded = { name: eventName, count: 1, firstTimestamp: stamp };
    this.#recorded.set(key, recorded);
    if (this.#recorded.size > 10_000)
      this.#recorded.delete(this.#recorded.keys().next().value ?? '');
    await this.client.create(resourcePath('v1', 'events', namespace), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: eventName, namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace,
        name,
        uid,
        resourceVersion: object.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      type,
      source: {
        component: this.source.component,
        ...(this.source.host ? { host: this.source.host } : {}),
      },
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
      eventTime: null,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? '',
    });
  }
}
