/**
 * `kill -9` of `sgpods kube-apiserver` in the middle of a burst of writes: after a restart on the
 * same home every acknowledged write is there, and a watch from the last acknowledged
 * resourceVersion resumes without a gap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath } from '../support/run-cli.js';
import { waitFor } from '../support/wait-for.js';

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
}

async function start(home: string, port?: number): Promise<Running> {
  const child = spawn(
    process.execPath,
    [cliPath, '--home', home, 'kube-apiserver', ...(port ? ['--port', String(port)] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => /serving (https:\S+);/.test(output), {
    timeoutMs: 30_000,
    what: 'the API server to serve',
  });
  return { child, url: /serving (https:\S+);/.exec(output)?.[1] ?? '' };
}

describe('the API server after kill -9', () => {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-kube-crash-'));
  let running: Running | undefined;

  afterAll(() => {
    running?.child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('keeps every acknowledged write of a burst, and watches resume from it', async () => {
    running = await start(home);
    const ca = readFileSync(join(home, 'pki', 'ca.crt'), 'utf8');
    const token = readFileSync(join(home, 'kube-tokens.csv'), 'utf8').split(',')[0] ?? '';
    const call = (url: string, method: string, path: string, body?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = httpsRequest(
          `${url}${path}`,
          {
            method,
            ca,
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    const acknowledged: { name: string; resourceVersion: number }[] = [];
    const first = running;
    const writes = Array.from({ length: 60 }, async (_, index) => {
      try {
        const answer = await call(
          first.url,
          'POST',
          '/api/v1/namespaces/default/configmaps',
          JSON.stringify({ metadata: { name: `burst-${index}` } }),
        );
        if (answer.status === 201) {
          const object = JSON.parse(answer.text) as { metadata: { resourceVersion: string } };
          acknowledged.push({
            name: `burst-${index}`,
            resourceVersion: Number(object.metadata.resourceVersion),
          });
          if (acknowledged.length === 10) first.child.kill('SIGKILL');
        }
      } catch {
        // Cut off by the crash: may or may not have been committed.
      }
    });
    await Promise.all(writes);
    await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, {
      timeoutMs: 10_000,
      what: 'the server to die',
    });
    expect(acknowledged.length).toBeGreaterThanOrEqual(10);
    expect(existsSync(join(home, 'kube.sqlite'))).toBe(true);

    const port = Number(new URL(first.url).port);
    running = await start(home, port);
    const list = JSON.parse(
      (await call(running.url, 'GET', '/api/v1/namespaces/default/configmaps')).text,
    ) as {
      items: { metadata: { name: string } }[];
    };
    const present = new Set(list.items.map((item) => item.metadata.name));
    for (const write of acknowledged) expect(present.has(write.name), write.name).toBe(true);

    // A watch from the earliest acknowledged version replays everything after it.
    const earliest = Math.min(...acknowledged.map((write) => write.resourceVersion));
    const replay = await call(
      running.url,
      'GET',
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${earliest}&timeoutSeconds=1`,
    );
    const replayed = new Set(
      replay.text
        .trim()
        .split('\n')
        .map(
          (line) =>
            (JSON.parse(line) as { object: { metadata: { name: string } } }).object.metadata.name,
        ),
    );
    for (const write of acknowledged) {
      if (write.resourceVersion > earliest) expect(replayed.has(write.name), write.name).toBe(true);
    }
  });
});
