/**
 * `kubectl logs` against the API server, with container logs laid out as a kubelet writes them
 * (`<home>/pod-logs/<ns>_<pod>_<uid>/<container>/<restart>.log`, CRI lines): the current and the
 * previous run, timestamps, tail, a container still waiting, a wrong container, and `logs -f`
 * streaming appended lines until the pod is deleted.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

const line = (time: string, text: string) => `${time} stdout F ${text}\n`;

describe('pod logs', () => {
  let fixture: KubeFixture;
  let logDirectory = '';

  const createPod = async (name: string, containers: string[]) => {
    const created = await fixture.call('POST', '/api/v1/namespaces/default/pods', {
      body: JSON.stringify({
        metadata: { name },
        spec: {
          containers: containers.map((container) => ({ name: container, image: 'busybox' })),
        },
      }),
    });
    const uid = (created.body.metadata as { uid: string }).uid;
    return join(logDirectory, `default_${name}_${uid}`);
  };

  beforeAll(async () => {
    fixture = await startKubeFixture();
    logDirectory = join(fixture.home, 'pod-logs');
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('shows the current and the previous run, with timestamps and tail', async () => {
    const directory = await createPod('app', ['main']);
    const waiting = await fixture.kubectl(['logs', 'app']);
    expect(waiting.stderr).toContain(
      'container "main" in pod "app" is waiting to start: ContainerCreating',
    );
    mkdirSync(join(directory, 'main'), { recursive: true });
    writeFileSync(
      join(directory, 'main', '0.log'),
      line('2026-11-26T10:00:00.000000001Z', 'first run'),
    );
    writeFileSync(
      join(directory, 'main', '1.log'),
      line('2026-11-26T10:01:00.000000001Z', 'one') + line('2026-11-26T10:01:05.000000001Z', 'two'),
    );
    await fixture.call('PATCH', '/api/v1/namespaces/default/pods/app/status', {
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({
        status: { containerStatuses: [{ name: 'main', restartCount: 1, state: { running: {} } }] },
      }),
    });
    expect((await fixture.kubectl(['logs', 'app'])).stdout).toBe('one\ntwo\n');
    expect((await fixture.kubectl(['logs', 'app', '--tail=1'])).stdout).toBe('two\n');
    expect((await fixture.kubectl(['logs', 'app', '--timestamps'])).stdout).toBe(
      '2026-11-26T10:01:00.000000001Z one\n2026-11-26T10:01:05.000000001Z two\n',
    );
    expect((await fixture.kubectl(['logs', 'app', '--previous'])).stdout).toBe('first run\n');
    expect((await fixture.kubectl(['logs', 'app', '-c', 'other'])).stderr).toContain(
      'container other is not valid for pod app',
    );
  });

  it('asks for a container when the pod has several', async () => {
    await createPod('pair', ['a', 'b']);
    expect(await fixture.call('GET', '/api/v1/namespaces/default/pods/pair/log')).toMatchObject({
      status: 400,
      body: {
        reason: 'BadRequest',
        message: 'a container name must be specified for pod pair, choose one of: [a b]',
      },
    });
    expect((await fixture.call('GET', '/api/v1/namespaces/default/pods/nope/log')).status).toBe(
      404,
    );
  });

  it('follows appended lines until the pod is deleted', async () => {
    const directory = await createPod('tail', ['main']);
    mkdirSync(join(directory, 'main'), { recursive: true });
    const file = join(directory, 'main', '0.log');
    writeFileSync(file, line('2026-11-26T10:00:00Z', 'hello'));
    const output: string[] = [];
    const follower = fixture.spawnKubectl(['logs', '-f', 'tail']);
    follower.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('exit', resolve));
    try {
      await waitFor(() => output.join('') === 'hello\n', {
        timeoutMs: 20_000,
        what: 'the first line',
      });
      appendFileSync(file, line('2026-11-26T10:00:05Z', 'again'));
      await waitFor(() => output.join('') === 'hello\nagain\n', {
        timeoutMs: 10_000,
        what: 'the appended line',
      });
      await fixture.call('DELETE', '/api/v1/namespaces/default/pods/tail');
      expect(await exited).toBe(0);
    } finally {
      follower.kill();
    }
  });
});
