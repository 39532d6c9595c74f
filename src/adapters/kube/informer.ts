/**
 * An informer: list, then watch from the list's resourceVersion, keeping a local copy of every
 * object and telling handlers what changed. A watch that ends is resumed from the last version
 * seen (BOOKMARKs included); `Expired` (410) or any other failure re-lists, reporting objects
 * that vanished meanwhile as deletions — so handlers see every final state, as client-go's
 * reflector guarantees.
 */
import {
  isStatus,
  type KubeHttpClient,
  type KubeResource,
  type WatchHandle,
} from './kube-http-client.js';

export type InformerEvent = 'added' | 'updated' | 'deleted';

export type InformerHandler = (
  event: InformerEvent,
  object: KubeResource,
  previous: KubeResource | undefined,
) => void;

export function objectKey(object: KubeResource): string {
  const { namespace, name } = object.metadata;
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}

interface ListAnswer {
  metadata?: { resourceVersion?: string };
  items?: KubeResource[];
}

export class Informer {
  readonly #objects = new Map<string, KubeResource>();
  readonly #handlers: InformerHandler[] = [];
  #resourceVersion = '';
  #watch: WatchHandle | undefined;
  #stopped = false;
  #synced: Promise<void>;
  #markSynced: () => void = () => undefined;

  /** `path` is a collection path, with a `labelSelector`/`fieldSelector` query if needed. */
  constructor(
    readonly client: KubeHttpClient,
    readonly path: string,
    readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  onChange(handler: InformerHandler): this {
    this.#handlers.push(handler);
    return this;
  }

  /** Starts listing and watching; resolves once the first list is in. */
  start(): Promise<void> {
    void this.#run();
    return this.#synced;
  }

  get(key: string): KubeResource | undefined {
    return this.#objects.get(key);
  }

  list(): KubeResource[] {
    return [...this.#objects.values()];
  }

  /** A getter, so that checks after an await are not narrowed away. */
  get stopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.stop();
  }

  #emit(event: InformerEvent, object: KubeResource, previous?: KubeResource): void {
    for (const handler of this.#handlers) {
      try {
        handler(event, object, previous);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  async #relist(): Promise<void> {
    const answer = await this.client.get<ListAnswer>(this.path);
    const seen = new Set<string>();
    for (const item of answer.items ?? []) {
      const key = objectKey(item);
      seen.add(key);
      const previous = this.#objects.get(key);
      this.#objects.set(key, item);
      if (!previous) this.#emit('added', item);
      else if (previous.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.#emit('updated', item, previous);
    }
    for (const [key, object] of this.#objects) {
      if (seen.has(key)) continue;
      this.#objects.delete(key);
      this.#emit('deleted', object);
    }
    this.#resourceVersion = answer.metadata?.resourceVersion ?? '';
    this.#markSynced();
  }

  #apply(type: string, object: KubeResource): void {
    if (object.metadata.resourceVersion) this.#resourceVersion = object.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (type === 'DELETED') {
      this.#objects.delete(key);
      this.#emit('deleted', object);
      return;
    }
    this.#objects.set(key, object);
    this.#emit(previous ? 'updated' : 'added', object, previous);
  }

  async #run(): Promise<void> {
    let needsList = true;
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (needsList) await this.#relist();
        needsList = false;
        const watch = { expired: false };
        this.#watch = this.client.watch(this.path, this.#resourceVersion, (event) => {
          if (event.type === 'ERROR') {
            watch.expired = true;
            return;
          }
          this.#apply(event.type, event.object);
        });
        await this.#watch.done;
        if (watch.expired) needsList = true;
        failures = 0;
      } catch (error) {
        if (this.stopped) return;
        if (!isStatus(error, 'Expired', 'Gone')) this.onError(error);
        needsList = true;
        failures += 1;
        await new Promise((done) => setTimeout(done, Math.min(100 * 2 ** failures, 5000)));
      }
    }
  }
}
