/**
 * The dashboard's HTTP server, bound to loopback: the page (Vite's production build, served by
 * sirv), the topology as JSON, the explain box's answers (the CLI's own text), and one
 * server-sent-events stream per open page carrying topology changes and every flow-log record
 * as the cloud writes it. The topology is polled only while a page is open; the flow log is
 * followed always, so a page opened later still gets the recent flows.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import type { ExplainAnswer } from '../../core/dashboard/dashboard-model.js';
import { SgpodsError } from '../../core/errors.js';
import type { FlowRecord } from '../../core/flows/flow-records.js';
import { explainLive } from '../commands/explain-live.js';
import type { FlowLogTail } from '../sandbox/flow-log-tail.js';
import type { LiveWorld } from '../sandbox/live-world.js';
import type { TopologyReader } from './topology-reader.js';

/** Where `npm run build` puts the page (dist/dashboard), from the compiled or the source file. */
export function dashboardAssetsDirectory(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(
    new URL(
      here.endsWith('.ts') ? '../../../dist/dashboard/' : '../../dashboard/',
      import.meta.url,
    ),
  );
}

export class DashboardNotBuiltError extends SgpodsError {
  constructor(message: string) {
    super('SGPODS_DASHBOARD_NOT_BUILT', message);
  }
}

/** A flow-log record as the page receives it. */
export interface FlowMessage {
  readonly sequence: number;
  /** When the server read it from the log (ms since the epoch). */
  readonly readAt: number;
  readonly record: FlowRecord;
}

export interface DashboardServerOptions {
  readonly live: LiveWorld;
  readonly topology: TopologyReader;
  readonly flows: FlowLogTail;
  /** The home's kernel prefix: where `--probe` looks for the source's namespace. */
  readonly prefix: string;
  readonly assets?: string;
  readonly pollMs?: number;
  /** How many recent flows a newly opened page is sent. */
  readonly recentFlows?: number;
}

const json = (response: ServerResponse, status: number, body: unknown): void => {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
};

export class DashboardServer {
  readonly #server: Server;
  readonly #subscribers = new Set<ServerResponse>();
  readonly #recent: FlowMessage[] = [];
  #sequence = 0;
  #topologyText = '';
  #timers: NodeJS.Timeout[] = [];
  #polling = false;

  constructor(private readonly options: DashboardServerOptions) {
    const assets = options.assets ?? dashboardAssetsDirectory();
    const page = join(assets, 'index.html');
    if (!existsSync(page)) {
      throw new DashboardNotBuiltError(
        `the dashboard's page is not built (${page} is missing): run npm run build`,
      );
    }
    // `dev`: files are looked up per request, so a rebuild under a running dashboard is served.
    const serveAssets = sirv(assets, { dev: true, etag: true });
    this.#server = createServer((request, response) => {
      this.#route(request, response, () => {
        serveAssets(request, response, () => {
          json(response, 404, { message: 'not found' });
        });
      }).catch((error: unknown) => {
        if (!response.headersSent) json(response, 500, { message: String(error) });
        else response.end();
      });
    });
  }

  /** Listens on 127.0.0.1; `port` 0 or taken → any free port. Returns the page's URL. */
  async listen(port: number): Promise<string> {
    const tryPort = (candidate: number) =>
      new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => {
          this.#server.off('listening', onListening);
          reject(error);
        };
        const onListening = () => {
          this.#server.off('error', onError);
          resolve();
        };
        this.#server.once('error', onError);
        this.#server.once('listening', onListening);
        this.#server.listen(candidate, '127.0.0.1');
      });
    try {
      await tryPort(port);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
      await tryPort(0);
    }
    this.#followFlows();
    const address = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${String(address.port)}/`;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const subscriber of this.#subscribers) subscriber.end();
    this.#subscribers.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
      this.#server.closeAllConnections();
    });
  }

  async #route(
    request: IncomingMessage,
    response: ServerResponse,
    otherwise: () => void,
  ): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    // A page from elsewhere that rebinds its name to 127.0.0.1 still sends its own Host.
    if (!this.#isLoopbackHost(request.headers.host)) {
      json(response, 403, { message: 'the dashboard answers to 127.0.0.1 and localhost only' });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      json(response, 405, { message: `${request.method ?? '?'} is not allowed` });
      return;
    }
    switch (url.pathname) {
      case '/api/topology':
        json(response, 200, await this.options.topology.read());
        return;
      case '/api/flows':
        json(response, 200, this.#recent);
        return;
      case '/api/explain':
        await this.#explain(url.searchParams, response);
        return;
      case '/api/events':
        await this.#subscribe(request, response);
        return;
      case '/healthz':
        response.end('ok\n');
        return;
      default:
        otherwise();
    }
  }

  #isLoopbackHost(host: string | undefined): boolean {
    const port = (this.#server.address() as AddressInfo | null)?.port;
    return (
      port !== undefined &&
      ['127.0.0.1', 'localhost', '[::1]'].some((name) => host === `${name}:${String(port)}`)
    );
  }

  async #explain(parameters: URLSearchParams, response: ServerResponse): Promise<void> {
    const source = parameters.get('source')?.trim() ?? '';
    const target = parameters.get('target')?.trim() ?? '';
    if (!source || !target) {
      const answer: ExplainAnswer = {
        verdict: 'error',
        text: 'give a source and a target, as sgpods explain takes them',
      };
      json(response, 400, answer);
      return;
    }
    try {
      const answer = await explainLive(this.options.live, this.options.prefix, {
        source,
        target,
        probe: parameters.get('probe') === '1',
      });
      json(response, 200, {
        verdict: answer.allowed ? 'allowed' : 'denied',
        text: answer.text,
      } satisfies ExplainAnswer);
    } catch (error) {
      const known = error instanceof SgpodsError;
      json(response, known ? 400 : 500, {
        verdict: 'error',
        text: error instanceof Error ? error.message : String(error),
      } satisfies ExplainAnswer);
    }
  }

  async #subscribe(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    this.#subscribers.add(response);
    request.once('close', () => this.#subscribers.delete(response));
    const topology = await this.options.topology.read();
    this.#topologyText = JSON.stringify(topology);
    send(response, 'topology', this.#topologyText);
    send(response, 'flows', JSON.stringify(this.#recent));
    this.#startPolling();
  }

  #broadcast(event: string, data: string): void {
    for (const subscriber of this.#subscribers) send(subscriber, event, data);
  }

  #followFlows(): void {
    const limit = this.options.recentFlows ?? 500;
    const read = () => {
      const lines = this.options.flows.readNew();
      if (lines.length === 0) return;
      const readAt = Date.now();
      const messages = lines.map(({ record }) => ({
        sequence: (this.#sequence += 1),
        readAt,
        record,
      }));
      this.#recent.push(...messages);
      this.#recent.splice(0, Math.max(0, this.#recent.length - limit));
      for (const message of messages) this.#broadcast('flow', JSON.stringify(message));
    };
    read();
    // A stat every 50 ms: a record reaches the page well within the flow log's own 1 s window.
    this.#timers.push(setInterval(read, 50));
    // Proxies and browsers drop quiet streams: a comment line now and then keeps them open.
    this.#timers.push(
      setInterval(() => {
        for (const subscriber of this.#subscribers) subscriber.write(': keep-alive\n\n');
      }, 15_000),
    );
  }

  /** While a page is open, the topology is read every `pollMs` and sent when it changed. */
  #startPolling(): void {
    if (this.#polling) return;
    this.#polling = true;
    const poll = async (): Promise<void> => {
      if (this.#subscribers.size === 0) {
        this.#polling = false;
        return;
      }
      try {
        const text = JSON.stringify(await this.options.topology.read());
        if (text !== this.#topologyText) {
          this.#topologyText = text;
          this.#broadcast('topology', text);
        }
      } catch {
        // The API server restarting: the next poll tries again.
      }
      setTimeout(() => void poll(), this.options.pollMs ?? 1000).unref();
    };
    setTimeout(() => void poll(), this.options.pollMs ?? 1000).unref();
  }
}

function send(response: ServerResponse, event: string, data: string): void {
  response.write(`event: ${event}\ndata: ${data}\n\n`);
}
