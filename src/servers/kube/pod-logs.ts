/**
 * `pods/<name>/log` (`kubectl logs`, `logs -f`): the container logs the kubelet writes, laid out as
 * a kubelet lays out /var/log/pods — `<directory>/<namespace>_<pod>_<uid>/<container>/<restart>.log`,
 * one CRI line each (`<RFC 3339 time> <stream> <P|F> <text>`). `container`, `previous`,
 * `timestamps`, `tailLines`, `limitBytes` and `follow` behave as on a real cluster; a container
 * that has not started yet, or a wrong container name, is a 400 worded as the kubelet words it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { KubeStatusError } from '../../core/errors.js';
import type { KubeObject, KubeStore } from './storage/kube-store.js';

type Json = Record<string, unknown>;

const followPollMs = 200;

function listAt(value: unknown): Json[] {
  return Array.isArray(value) ? (value as Json[]) : [];
}

/** The log file of a pod's container (its current run, or the one before with `previous`). */
export function containerLogPath(
  directory: string,
  pod: KubeObject,
  container: string,
  restart: number,
): string {
  const metadata = pod.metadata ?? {};
  return join(
    directory,
    `${metadata.namespace ?? ''}_${metadata.name ?? ''}_${metadata.uid ?? ''}`,
    container,
    `${restart}.log`,
  );
}

function badRequest(message: string): KubeStatusError {
  return new KubeStatusError('BadRequest', 400, message);
}

function chosenContainer(pod: KubeObject, requested: string | null): string {
  const spec = (pod.spec ?? {}) as Json;
  const names = [...listAt(spec.containers), ...listAt(spec.initContainers)].map((c) =>
    String(c.name),
  );
  const name = pod.metadata?.name ?? '';
  if (requested) {
    if (!names.includes(requested)) {
      throw badRequest(`container ${requested} is not valid for pod ${name}`);
    }
    return requested;
  }
  const containers = listAt(spec.containers).map((c) => String(c.name));
  if (containers.length === 1 && containers[0]) return containers[0];
  throw badRequest(
    `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
  );
}

/** The CRI lines of a log, as kubectl shows them (with their timestamps when asked). */
function rendered(lines: readonly string[], timestamps: boolean): string {
  return lines
    .map((line) => {
      const match = /^(\S+) (?:stdout|stderr) ([PF]) (.*)$/.exec(line);
      if (!match) return `${line}\n`;
      const [, time = '', partial, text = ''] = match;
      const body = partial === 'P' ? text : `${text}\n`;
      return timestamps ? `${time} ${body}` : body;
    })
    .join('');
}

export interface PodLogRequest {
  readonly store: KubeStore;
  readonly directory: string;
  readonly pod: KubeObject;
  readonly query: URLSearchParams;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

/** The log file to read, or the kubelet's 400 when the container has none (yet). */
function logFileOf(options: PodLogRequest, container: string, previous: boolean): string {
  const { pod } = options;
  const status = listAt((pod.status as Json | undefined)?.containerStatuses).find(
    (candidate) => candidate.name === container,
  );
  const restarts = typeof status?.restartCount === 'number' ? status.restartCount : 0;
  const path = containerLogPath(
    options.directory,
    pod,
    container,
    previous ? restarts - 1 : restarts,
  );
  if (existsSync(path)) return path;
  const name = pod.metadata?.name ?? '';
  if (previous) {
    throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
  }
  const waiting = ((status?.state as Json | undefined)?.waiting ?? {}) as Json;
  const reason = typeof waiting.reason === 'string' ? waiting.reason : 'ContainerCreating';
  throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason}`);
}

/** Serves a pod's log; with `follow`, keeps streaming until the pod goes or the client leaves. */
export function servePodLog(options: PodLogRequest): void {
  const { query, response } = options;
  const container = chosenContainer(options.pod, query.get('container'));
  const previous = query.get('previous') === 'true';
  const path = logFileOf(options, container, previous);
  const timestamps = query.get('timestamps') === 'true';
  const tail = Number(query.get('tailLines') ?? '-1');
  const limit = Number(query.get('limitBytes') ?? '0');
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  let text = rendered(
    tail >= 0 ? lines.slice(Math.max(0, lines.length - tail)) : lines,
    timestamps,
  );
  if (limit > 0) text = text.slice(0, limit);
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
  response.write(text);
  if (query.get('follow') !== 'true' || previous) {
    response.end();
    return;
  }
  follow(options, path, statSync(path).size, timestamps);
}

/** Streams what is appended to the log; ends when the pod is gone or the client leaves. */
function follow(options: PodLogRequest, path: string, from: number, timestamps: boolean): void {
  const { store, pod, request, response } = options;
  let offset = from;
  let pending = '';
  const timer = setInterval(() => {
    const current = store.get('/pods', pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    if (!current || current.metadata?.uid !== pod.metadata?.uid) {
      stop();
      response.end();
      return;
    }
    const size = existsSync(path) ? statSync(path).size : offset;
    if (size <= offset) return;
    const added = readFileSync(path).subarray(offset, size).toString('utf8');
    offset = size;
    const lines = (pending + added).split('\n');
    pending = lines.pop() ?? '';
    if (lines.length > 0) response.write(rendered(lines, timestamps));
  }, followPollMs);
  const stop = () => {
    clearInterval(timer);
  };
  request.on('close', stop);
  response.on('close', stop);
}
