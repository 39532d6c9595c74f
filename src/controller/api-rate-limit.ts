/**
 * Client-side rate limiting of the controller's API calls, as client-go's `--kube-api-qps` /
 * `--kube-api-burst` (upstream's `--apiserver-qps/burst`): a token bucket refilled at `qps`,
 * holding at most `burst`, that every request of every API client waits on.
 */
import {
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

export class TokenBucket {
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Resolves when a token is available (callers are served in order). */
  take(): Promise<void> {
    const turn = this.#queue.then(async () => {
      for (;;) {
        const now = this.now();
        this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
        this.#last = now;
        if (this.#tokens >= 1) {
          this.#tokens -= 1;
          return;
        }
        await this.sleep(((1 - this.#tokens) / this.qps) * 1000);
      }
    });
    this.#queue = turn;
    return turn;
  }
}

/** A KubeConfig whose API clients all wait on one token bucket. */
export class RateLimitedKubeConfig extends KubeConfig {
  constructor(readonly bucket: TokenBucket) {
    super();
  }

  override makeApiClient<T>(
    apiClientType: new (config: ReturnType<typeof createConfiguration>) => T,
  ): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const { bucket } = this;
    return new apiClientType(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: this },
        promiseMiddleware: [
          {
            pre: async (context: RequestContext) => {
              await bucket.take();
              return context;
            },
            post: (context: ResponseContext) => Promise.resolve(context),
          },
        ],
      }),
    );
  }
}
