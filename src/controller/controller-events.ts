/**
 * Kubernetes Events from the controller (source component `vpc-resource-controller`, rc.md §6.1),
 * on pods and nodes, where `kubectl describe` finds them. Node events use the node name as the
 * involved object's UID and live in `default`, as upstream's recorder makes them. A repeat of the
 * same event on the same object within ten minutes bumps its count (client-go's correlator)
 * instead of adding another. Recording never blocks or fails the caller: errors are logged.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeObjects } from './kube-objects.js';
import type { Logger } from './logger.js';

export const eventSource = 'vpc-resource-controller';
const correlationWindowMs = 10 * 60_000;

export interface InvolvedObject {
  readonly kind: 'Pod' | 'Node';
  readonly name: string;
  readonly namespace?: string;
  readonly uid: string;
}

export type EventType = 'Normal' | 'Warning';

interface Recorded {
  readonly name: string;
  readonly namespace: string;
  count: number;
  last: number;
}

export class ControllerEvents {
  readonly #objects: KubeObjects;
  readonly #recorded = new Map<string, Recorded>();
  readonly #instance = hostname();

  constructor(
    config: KubeConfig,
    private readonly logger: Logger,
  ) {
    this.#objects = new KubeObjects(config);
  }

  pod(
    pod: { name: string; namespace: string; uid: string },
    type: EventType,
    reason: string,
    message: string,
  ): void {
    this.#record({ kind: 'Pod', ...pod }, type, reason, message);
  }

  node(name: string, type: EventType, reason: string, message: string): void {
    this.#record({ kind: 'Node', name, uid: name }, type, reason, message);
  }

  #record(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    this.#send(object, type, reason, message).catch((error: unknown) => {
      this.logger.warn({ err: error, reason, object: object.name }, 'event not recorded');
    });
  }

  async #send(object: InvolvedObject, type: EventType, reason: string, message: string) {
    const key = [
      object.kind,
      object.namespace,
      object.name,
      object.uid,
      type,
      reason,
      message,
    ].join('\u0000');
    const now = Date.now();
    const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
    const previous = this.#recorded.get(key);
    if (previous && now - previous.last < correlationWindowMs) {
      previous.count += 1;
      previous.last = now;
      await this.#objects.mergePatch({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: previous.name, namespace: previous.namespace },
        count: previous.count,
        lastTimestamp: stamp,
      });
      return;
    }
    const namespace = object.namespace ?? 'default';
    const name = `${object.name}.${randomBytes(8).toString('hex')}`;
    this.#recorded.set(key, { name, namespace, count: 1, last: now });
    if (this.#recorded.size > 10_000) this.#forgetOld(now);
    await this.#objects.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: object.kind,
        name: object.name,
        uid: object.uid,
        ...(object.namespace ? { namespace: object.namespace } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      source: { component: eventSource },
      reportingComponent: eventSource,
      reportingInstance: this.#instance,
    });
  }

  #forgetOld(now: number): void {
    for (const [key, recorded] of this.#recorded)
      if (now - recorded.last >= correlationWindowMs) this.#recorded.delete(key);
  }
}
