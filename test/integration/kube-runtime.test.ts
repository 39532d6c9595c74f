/**
 * The local cluster runtime (`sgpods kube`) with the real kubectl: Deployments roll out and
 * scale, pods are processes in their own network namespaces reaching each other by pod IP, logs
 * stream, `describe` shows conditions and events, deletion leaves nothing behind; DaemonSets roll
 * on `set env`; unknown images, crashes, missing Secrets and missing pod-eni capacity are
 * reported as Kubernetes words them; the workshop's two Deployments (unchanged) print the rows
 * and the timeout; a `kill -9` of the runtime is adopted without orphans.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { listNamespaces } from '../../src/adapters/netns/netns.js';
import { KubeProcess, launchersOf } from '../support/kube-process.js';
import { PostgresServer } from '../support/postgres-server.js';
import { repoRoot } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const password = 'workshop-password';

/** The cluster's own pods (the DNS add-on), running before any test: not the tests' business. */
const addOns = { namespaces: new Set<string>(), launchers: new Set<number>() };

/** The pod namespaces of the home, the add-ons' left out. */
function podNamespaces(prefix: string): Promise<string[]> {
  return listNamespaces().then((names) =>
    names.filter((name) => name.startsWith(`${prefix}p`) && !addOns.namespaces.has(name)),
  );
}

/** The container launchers of the home, the add-ons' left out. */
function ownLaunchers(home: string): number[] {
  return launchersOf(home).filter((pid) => !addOns.launchers.has(pid));
}

describe.skipIf(!isRoot)('the local cluster runtime', () => {
  let home: TestHome;
  let kube: KubeProcess;

  beforeAll(async () => {
    home = createTestHome();
    kube = new KubeProcess(home.home, ['--nodes', '2']);
    await kube.start();
    await kube.kubectlOk([
      '-n',
      'kube-system',
      'rollout',
      'status',
      'deployment/coredns',
      '--timeout=120s',
    ]);
    for (const name of await podNamespaces(home.prefix)) addOns.namespaces.add(name);
    for (const pid of launchersOf(home.home)) addOns.launchers.add(pid);
    expect(addOns.namespaces.size).toBe(2);
  });

  afterAll(async () => {
    await kube?.down();
    expect(await home.ownedNamespaces()).toEqual([]);
    expect(launchersOf(home.home)).toEqual([]);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    expect(mounts.includes(home.prefix)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/sgpods/${home.prefix}`)).toBe(false);
    await home.cleanup();
  });

  it('registers Ready nodes with labels, capacity and leases', async () => {
    const nodes = await kube.kubectlOk(['get', 'nodes', '-o', 'wide']);
    expect(nodes).toMatch(/node-1\s+Ready\s+<none>\s+\S+\s+v1\.32\.0\s+10\.250\.1\.2/);
    expect(nodes).toMatch(/node-2\s+Ready/);
    const labels = JSON.parse(
      await kube.jsonpath(['node', 'node-1'], '{.metadata.labels}'),
    ) as Record<string, string>;
    expect(labels['node.kubernetes.io/instance-type']).toBe('t3.large');
    expect(labels['topology.kubernetes.io/zone']).toBe('us-west-2a');
    expect(labels['kubernetes.io/os']).toBe('linux');
    expect(await kube.jsonpath(['node', 'node-1'], '{.status.allocatable.pods}')).toBe('35');
    expect(await kube.jsonpath(['node', 'node-2'], '{.spec.podCIDR}')).toBe('10.244.2.0/24');
    const lease = await kube.kubectlOk(['-n', 'kube-node-lease', 'get', 'lease', 'node-1']);
    expect(lease).toMatch(/node-1\s+node-1/);
  });

  it('rolls out, scales, streams logs, describes and deletes a Deployment', async () => {
    await kube.kubectlOk([
      'create',
      'deployment',
      'web',
      '--image=busybox',
      '--replicas=3',
      '--',
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo "tick $i from $HOSTNAME"; sleep 0.2; done',
    ]);
    expect(
      await kube.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=120s']),
    ).toContain('deployment "web" successfully rolled out');
    const wide = await kube.kubectlOk([
      'get',
      'pods',
      '-l',
      'app=web',
      '-o',
      'wide',
      '--no-headers',
    ]);
    const rows = wide.split('\n').map((line) => line.split(/\s+/));
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row[2]).toBe('Running');
      expect(row[5]).toMatch(/^10\.244\.[12]\.\d+$/);
      expect(row[6]).toMatch(/^node-[12]$/);
    }
    expect(new Set(rows.map((row) => row[6])).size).toBe(2);

    // Each pod is a process in its own network namespace; pods reach each other by pod IP,
    // across nodes.
    const namespaces = await podNamespaces(home.prefix);
    expect(namespaces).toHaveLength(3);
    const ips = rows.map((row) => row[5] ?? '');
    for (const ip of ips) {
      const ping = await runCommand(
        ['ip', 'netns', 'exec', namespaces[0] ?? '', 'ping', '-c1', '-W2', ip],
        {
          okExitCodes: [0, 1],
        },
      );
      expect(ping.exitCode).toBe(0);
    }
    const pids = (await runCommand(['ip', 'netns', 'pids', namespaces[0] ?? ''])).stdout
      .trim()
      .split('\n');
    expect(pids.length).toBeGreaterThan(0);

    // logs -f streams lines as they are written.
    const pod = rows[0]?.[0] ?? '';
    const follow = kube.spawnKubectl(['logs', '-f', pod]);
    let streamed = '';
    follow.stdout?.on('data', (chunk: Buffer) => (streamed += chunk.toString()));
    try {
      await waitFor(() => (streamed.match(/tick \d+ from /g) ?? []).length >= 10, {
        timeoutMs: 30_000,
        what: 'kubectl logs -f to stream ten lines',
      });
    } finally {
      follow.kill();
    }
    expect(streamed).toContain(`from ${pod}`);

    const described = await kube.kubectlOk(['describe', 'pod', pod]);
    expect(described).toMatch(/Status:\s+Running/);
    expect(described).toMatch(/Ready\s+True/);
    expect(described).toMatch(/ContainersReady\s+True/);
    expect(described).toMatch(
      /Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\//,
    );
    expect(described).toMatch(/Started\s+\S+\s+kubelet\s+Started container busybox/);

    await kube.kubectlOk(['scale', 'deployment/web', '--replicas=1']);
    await kube.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=120s']);
    await waitFor(async () => (await podNamespaces(home.prefix)).length === 1, {
      timeoutMs: 60_000,
      what: 'two pod namespaces to go after scaling to 1',
    });
    const status = JSON.parse(await kube.jsonpath(['deployment', 'web'], '{.status}')) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({
      replicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
    });
    expect(status.observedGeneration).toBe(
      Number(await kube.jsonpath(['deployment', 'web'], '{.metadata.generation}')),
    );

    // Deleting returns once the pods are gone: processes, namespaces and mounts with them.
    await kube.kubectlOk(['delete', 'deployment', 'web']);
    await waitFor(
      async () => (await kube.kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'name'])) === '',
      {
        timeoutMs: 60_000,
        what: 'the pods of web to be deleted',
      },
    );
    expect(await podNamespaces(home.prefix)).toEqual([]);
    expect(ownLaunchers(home.home)).toEqual([]);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    expect(namespaces.filter((name) => mounts.includes(name))).toEqual([]);
  });

  it("runs containers in the pod's namespaces: hostname, /etc/hosts, resolv.conf, PID 1, env", async () => {
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: v1
kind: Pod
metadata: {name: inside, labels: {tier: probe}}
spec:
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig: {nameservers: [10.250.1.1], searches: [example.internal], options: [{name: ndots, value: "2"}]}
  containers:
  - name: app
    image: busybox
    workingDir: /tmp
    command: [sh, -c, 'hostname; echo "pid=$$$$ cwd=$(pwd) ip=$POD_IP mode=$MODE tier=$TIER"; grep inside /etc/hosts; cat /etc/resolv.conf; ls /proc | grep -c "^[0-9]"']
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
`,
    );
    await waitFor(
      async () => (await kube.jsonpath(['pod', 'inside'], '{.status.phase}')) === 'Succeeded',
      {
        timeoutMs: 60_000,
        what: 'the pod to succeed',
      },
    );
    const ip = await kube.jsonpath(['pod', 'inside'], '{.status.podIP}');
    const lines = (await kube.kubectlOk(['logs', 'inside'])).split('\n');
    expect(lines[0]).toBe('inside');
    // PID 2: the shell is the first child of the pod's init (tini is PID 1).
    expect(lines[1]).toBe(`pid=2 cwd=/tmp ip=${ip} mode=fast tier=probe`);
    expect(lines[2]).toBe(`${ip}\tinside`);
    expect(lines.slice(3, 6)).toEqual([
      'search example.internal',
      'nameserver 10.250.1.1',
      'options ndots:2',
    ]);
    // Only the container's own processes are visible in its /proc.
    expect(Number(lines[6])).toBeLessThanOrEqual(4);
    await kube.kubectlOk(['delete', 'pod', 'inside']);
    await kube.kubectlOk(['delete', 'configmap', 'settings']);
  });

  it('stops a pod within its grace period, even a shell that ignores nothing', async () => {
    await kube.kubectlOk([
      'run',
      'sleeper',
      '--image=busybox',
      '--',
      'sh',
      '-c',
      'while true; do sleep 1; done',
    ]);
    await kube.kubectlOk(['wait', '--for=condition=Ready', 'pod/sleeper', '--timeout=60s']);
    const started = Date.now();
    await kube.kubectlOk(['delete', 'pod', 'sleeper']);
    // The init forwards SIGTERM to the shell: far less than the 30 s grace period.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await podNamespaces(home.prefix)).toEqual([]);
  });

  it('runs a DaemonSet on every node and rolls it on set env', async () => {
    const manifest = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: busybox
        command: [sh, -c, 'echo "mode=$MODE"; exec sleep 3600']
        env: [{name: MODE, value: one}]
`;
    await kube.kubectlOk(['apply', '-f', '-'], manifest);
    await kube.kubectlOk(['-n', 'kube-system', 'rollout', 'status', 'ds/agent', '--timeout=120s']);
    const nodesOf = async () =>
      (
        await kube.kubectlOk([
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'app=agent',
          '-o',
          'jsonpath={.items[*].spec.nodeName}',
        ])
      )
        .split(' ')
        .sort();
    expect(await nodesOf()).toEqual(['node-1', 'node-2']);
    await kube.kubectlOk(['-n', 'kube-system', 'set', 'env', 'daemonset', 'agent', 'MODE=two']);
    await kube.kubectlOk(['-n', 'kube-system', 'rollout', 'status', 'ds/agent', '--timeout=120s']);
    const pods = (
      await kube.kubectlOk(['-n', 'kube-system', 'get', 'pods', '-l', 'app=agent', '-o', 'name'])
    ).split('\n');
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      await waitFor(
        async () =>
          (await kube.kubectl(['-n', 'kube-system', 'logs', pod])).stdout.includes('mode=two'),
        {
          timeoutMs: 30_000,
          what: `${pod} to print mode=two`,
        },
      );
    }
    expect(await nodesOf()).toEqual(['node-1', 'node-2']);
    await kube.kubectlOk(['-n', 'kube-system', 'delete', 'ds', 'agent']);
  });

  it('reports unknown images, crash loops, missing secrets and missing pod-eni capacity', async () => {
    await kube.kubectlOk(['run', 'nope', '--image=nosuch/image:1.0']);
    await kube.kubectlOk([
      'run',
      'crash',
      '--image=busybox',
      '--',
      'sh',
      '-c',
      'echo boom; exit 3',
    ]);
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: nosecret}
spec:
  containers:
  - name: app
    image: busybox
    env: [{name: P, valueFrom: {secretKeyRef: {name: absent, key: password}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: eni}
spec:
  containers:
  - name: app
    image: busybox
    resources: {limits: {vpc.amazonaws.com/pod-eni: "1"}}
`,
    );
    const reason = (pod: string) =>
      kube.jsonpath(['pod', pod], '{.status.containerStatuses[0].state.waiting.reason}');
    await waitFor(async () => (await reason('nope')) === 'ImagePullBackOff', {
      timeoutMs: 30_000,
      what: 'nope to be in ImagePullBackOff',
    });
    const pulls = await kube.kubectlOk([
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=nope',
    ]);
    expect(pulls).toContain(
      'Failed to pull image "nosuch/image:1.0": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/nosuch/image:1.0"',
    );
    expect(pulls).toContain('Back-off pulling image "nosuch/image:1.0"');

    await waitFor(async () => (await reason('crash')) === 'CrashLoopBackOff', {
      timeoutMs: 30_000,
      what: 'crash to be in CrashLoopBackOff',
    });
    expect(
      await kube.jsonpath(
        ['pod', 'crash'],
        '{.status.containerStatuses[0].lastState.terminated.exitCode}',
      ),
    ).toBe('3');
    expect((await kube.kubectlOk(['logs', 'crash', '--previous'])).trim()).toBe('boom');
    expect(await kube.kubectlOk(['describe', 'pod', 'crash'])).toMatch(
      /BackOff\s+.*kubelet\s+Back-off restarting failed container crash in pod crash_default/,
    );

    await waitFor(async () => (await reason('nosecret')) === 'CreateContainerConfigError', {
      timeoutMs: 30_000,
      what: 'nosecret to be in CreateContainerConfigError',
    });
    expect(
      await kube.jsonpath(
        ['pod', 'nosecret'],
        '{.status.containerStatuses[0].state.waiting.message}',
      ),
    ).toBe('secret "absent" not found');

    await waitFor(
      async () =>
        (await kube.jsonpath(['pod', 'eni'], '{.status.conditions[0].reason}')) === 'Unschedulable',
      {
        timeoutMs: 30_000,
        what: 'eni to be unschedulable',
      },
    );
    expect(await kube.jsonpath(['pod', 'eni'], '{.status.phase}')).toBe('Pending');
    expect(await kube.kubectlOk(['describe', 'pod', 'eni'])).toContain(
      '0/2 nodes are available: 2 Insufficient vpc.amazonaws.com/pod-eni.',
    );
    // Capacity appearing on a node (as the controller advertises it) schedules the pod.
    await kube.kubectlOk([
      'patch',
      'node',
      'node-2',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"capacity":{"vpc.amazonaws.com/pod-eni":"9"},"allocatable":{"vpc.amazonaws.com/pod-eni":"9"}}}',
    ]);
    await waitFor(
      async () => (await kube.jsonpath(['pod', 'eni'], '{.spec.nodeName}')) === 'node-2',
      {
        timeoutMs: 30_000,
        what: 'eni to be scheduled on node-2 once it has capacity',
      },
    );
    await kube.kubectlOk(['delete', 'pod', 'nope', 'crash', 'nosecret', 'eni', '--grace-period=1']);
    expect(await podNamespaces(home.prefix)).toEqual([]);
  });

  it('makes extended resources advertised in capacity allocatable, and schedules against them', async () => {
    const podEni = 'vpc.amazonaws.com/pod-eni';
    const allocatable = async () =>
      JSON.parse(
        (await kube.jsonpath(['node', 'node-1'], '{.status.allocatable}')) || '{}',
      ) as Record<string, string>;
    // Only capacity, as the VPC resource controller advertises it: the kubelet copies it.
    await kube.kubectlOk([
      'patch',
      'node',
      'node-1',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { capacity: { [podEni]: '2' } } }),
    ]);
    await waitFor(async () => (await allocatable())[podEni] === '2', {
      timeoutMs: 5_000,
      what: `node-1's allocatable to show ${podEni}: 2`,
    });
    expect(await allocatable()).toMatchObject({ pods: '35' });

    const pods = ['eni-a', 'eni-b', 'eni-c'];
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      pods
        .map(
          (name) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {test: pod-eni}}
spec:
  nodeSelector: {kubernetes.io/hostname: node-1}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'while true; do sleep 1; done']
    resources:
      limits: {${podEni}: "1"}
      requests: {${podEni}: "1"}
`,
        )
        .join('---'),
    );
    const nodeNames = async () =>
      (
        await kube.jsonpath(
          ['pods', '-l', 'test=pod-eni'],
          '{range .items[*]}{.metadata.name}={.spec.nodeName}{"\\n"}{end}',
        )
      )
        .trim()
        .split('\n')
        .map((line) => line.split('='));
    let pending = '';
    await waitFor(
      async () => {
        const rows = await nodeNames();
        const bound = rows.filter(([, node]) => node === 'node-1');
        const unbound = rows.filter(([, node]) => !node);
        pending = unbound[0]?.[0] ?? '';
        return rows.length === 3 && bound.length === 2 && unbound.length === 1;
      },
      { timeoutMs: 30_000, what: 'two eni pods on node-1 and one unscheduled' },
    );
    await waitFor(
      async () =>
        (
          await kube.kubectlOk([
            'get',
            'events',
            '--field-selector',
            `involvedObject.name=${pending},reason=FailedScheduling`,
          ])
        ).includes(`Insufficient ${podEni}`),
      { timeoutMs: 30_000, what: `a FailedScheduling event for ${pending}` },
    );
    expect(await kube.jsonpath(['pod', pending], '{.status.phase}')).toBe('Pending');
    expect(
      await kube.jsonpath(
        ['pod', pending],
        '{.status.conditions[?(@.type=="PodScheduled")].message}',
      ),
    ).toBe(
      `0/2 nodes are available: 1 Insufficient ${podEni}, 1 node(s) didn't match Pod's node affinity/selector.`,
    );
    expect((await nodeNames()).filter(([, node]) => node === 'node-1')).toHaveLength(2);

    await kube.kubectlOk(['delete', 'pod', ...pods, '--grace-period=1']);
    expect(await podNamespaces(home.prefix)).toEqual([]);
    // Gone from capacity, gone from allocatable.
    await kube.kubectlOk([
      'patch',
      'node',
      'node-1',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { capacity: { [podEni]: null } } }),
    ]);
    await waitFor(async () => !(podEni in (await allocatable())), {
      timeoutMs: 5_000,
      what: `${podEni} to leave node-1's allocatable`,
    });
    expect(await allocatable()).toMatchObject({ pods: '35' });
  });

  it('retries a failed CNI ADD with backoff: ContainerCreating and FailedCreatePodSandBox', async () => {
    const conf = join(home.home, 'kube', 'nodes', 'node-1', 'cni', 'net.d', '10-sgpods.conflist');
    const original = readFileSync(conf, 'utf8');
    writeFileSync(conf, original.replace('"sgpods-ptp"', '"missing-plugin"'));
    try {
      await kube.kubectlOk([
        'run',
        'netless',
        '--image=busybox',
        '--overrides={"spec":{"nodeName":"node-1"}}',
        '--',
        'sleep',
        '3600',
      ]);
      await waitFor(
        async () =>
          (
            await kube.kubectlOk([
              'get',
              'events',
              '--field-selector',
              'involvedObject.name=netless',
            ])
          ).includes('FailedCreatePodSandBox'),
        { timeoutMs: 30_000, what: 'a FailedCreatePodSandBox event' },
      );
      expect(await kube.kubectlOk(['get', 'pod', 'netless', '--no-headers'])).toMatch(
        /ContainerCreating/,
      );
      expect(await kube.kubectlOk(['describe', 'pod', 'netless'])).toContain(
        'plugin type="missing-plugin" failed (add): failed to find plugin "missing-plugin" in path',
      );
    } finally {
      writeFileSync(conf, original);
    }
    await kube.kubectlOk(['wait', '--for=condition=Ready', 'pod/netless', '--timeout=90s']);
    await kube.kubectlOk(['delete', 'pod', 'netless', '--grace-period=1']);
  });

  it('enforces memory limits with the cgroup v1 memory controller: OOMKilled', async () => {
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: busybox
    command: [/usr/bin/python3, -c, "x = bytearray(200 * 1024 * 1024); print('allocated')"]
    resources: {limits: {memory: 64Mi}}
`,
    );
    await waitFor(
      async () =>
        (await kube.jsonpath(
          ['pod', 'hog'],
          '{.status.containerStatuses[0].state.terminated.reason}',
        )) === 'OOMKilled',
      { timeoutMs: 60_000, what: 'hog to be OOMKilled' },
    );
    expect(await kube.jsonpath(['pod', 'hog'], '{.status.phase}')).toBe('Failed');
    expect(
      await kube.jsonpath(
        ['pod', 'hog'],
        '{.status.containerStatuses[0].state.terminated.exitCode}',
      ),
    ).toBe('137');
    await kube.kubectlOk(['delete', 'pod', 'hog']);
  });

  it('probes: readiness over HTTP from the node, liveness by exec restarts the container', async () => {
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: web
    image: busybox
    command: [/usr/bin/python3, -m, http.server, '8080', --bind, 0.0.0.0]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
  - name: flaky
    image: busybox
    command: [sh, -c, 'exec sleep 3600']
    livenessProbe: {exec: {command: [cat, /nonexistent]}, periodSeconds: 1, failureThreshold: 2}
  terminationGracePeriodSeconds: 2
`,
    );
    await waitFor(
      async () =>
        (await kube.jsonpath(
          ['pod', 'probed'],
          '{.status.containerStatuses[?(@.name=="web")].ready}',
        )) === 'true',
      {
        timeoutMs: 60_000,
        what: 'the web container to be ready',
      },
    );
    await waitFor(
      async () =>
        Number(
          await kube.jsonpath(
            ['pod', 'probed'],
            '{.status.containerStatuses[?(@.name=="flaky")].restartCount}',
          ),
        ) >= 1,
      { timeoutMs: 60_000, what: 'the flaky container to be restarted by its liveness probe' },
    );
    const described = await kube.kubectlOk(['describe', 'pod', 'probed']);
    expect(described).toMatch(
      /Unhealthy\s+.*kubelet\s+Liveness probe failed: cat: \/nonexistent: No such file or directory/,
    );
    expect(described).toContain('Container flaky failed liveness probe, will be restarted');
    await kube.kubectlOk(['delete', 'pod', 'probed']);
  });

  it('runs the workshop Deployments unchanged: green prints the rows, red the timeout', async () => {
    // PostgreSQL on node-2's address; its input hook drops every pod but the ones allowed
    // (green), so red's connection attempts time out as packets dropped by a security group do.
    const nodeNamespace = `${home.prefix}n2`;
    const postgres = new PostgresServer(nodeNamespace, join(home.home, 'db'), '10.250.2.2');
    await postgres.start(password);
    try {
      await postgres.sql(`create user eksworkshop with password '${password}'`);
      await postgres.sql('create database eksworkshop owner eksworkshop');
      await postgres.sql(
        "create table welcome (column1 text); insert into welcome values ('--------------------------'); insert into welcome values ('Welcome to the eksworkshop'); insert into welcome values ('--------------------------'); alter table welcome owner to eksworkshop;",
        'eksworkshop',
      );
      await runCommand(['ip', 'netns', 'exec', nodeNamespace, 'nft', '-f', '-'], {
        input: `table inet ${home.prefix}db {
  set allowed { type ipv4_addr; }
  chain input { type filter hook input priority 0; tcp dport 5432 ip saddr 10.244.0.0/16 ip saddr != @allowed drop; }
}
`,
      });
      await kube.kubectlOk([
        'label',
        'node',
        'node-1',
        'vpc.amazonaws.com/has-trunk-attached=true',
      ]);
      await kube.kubectlOk(['create', 'namespace', 'sg-per-pod']);
      await kube.kubectlOk([
        '-n',
        'sg-per-pod',
        'create',
        'secret',
        'generic',
        'rds',
        '--from-literal=host=10.250.2.2',
        '--from-literal=name=eksworkshop',
        `--from-literal=password=${password}`,
      ]);
      await kube.kubectlOk(['apply', '-f', join(repoRoot, 'examples/workshop/green-pod.yaml')]);
      await kube.kubectlOk([
        '-n',
        'sg-per-pod',
        'rollout',
        'status',
        'deployment/green-pod',
        '--timeout=120s',
      ]);
      const greenIp = await kube.jsonpath(
        ['-n', 'sg-per-pod', 'pods', '-l', 'app=green-pod'],
        '{.items[0].status.podIP}',
      );
      await runCommand([
        'ip',
        'netns',
        'exec',
        nodeNamespace,
        'nft',
        'add',
        'element',
        'inet',
        `${home.prefix}db`,
        'allowed',
        `{ ${greenIp} }`,
      ]);
      await kube.kubectlOk(['apply', '-f', join(repoRoot, 'examples/workshop/red-pod.yaml')]);
      await kube.kubectlOk([
        '-n',
        'sg-per-pod',
        'rollout',
        'status',
        'deployment/red-pod',
        '--timeout=120s',
      ]);
      const logsOf = async (app: string) =>
        (await kube.kubectl(['-n', 'sg-per-pod', 'logs', `deployment/${app}`])).stdout;
      await waitFor(
        async () => (await logsOf('green-pod')).includes('Welcome to the eksworkshop'),
        {
          timeoutMs: 60_000,
          what: 'green to print the rows',
        },
      );
      expect((await logsOf('green-pod')).split('\n')).toContain(
        "[('--------------------------',), ('Welcome to the eksworkshop',), ('--------------------------',)]",
      );
      await waitFor(async () => (await logsOf('red-pod')).includes('timeout expired'), {
        timeoutMs: 60_000,
        what: 'red to print the timeout',
      });
      expect((await logsOf('red-pod')).split('\n')[0]).toBe(
        'Database connection failed due to timeout expired',
      );
      await kube.kubectlOk(['delete', 'namespace', 'sg-per-pod', '--timeout=120s']);
    } finally {
      await postgres.stop();
    }
  });

  it('adopts running pods after kill -9 of the runtime, and of their launchers too: same processes, no orphans', async () => {
    await kube.kubectlOk([
      'create',
      'deployment',
      'steady',
      '--image=busybox',
      '--replicas=2',
      '--',
      'sh',
      '-c',
      'while true; do sleep 1; done',
    ]);
    await kube.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    const before = ownLaunchers(home.home).sort();
    const namespacesBefore = (await podNamespaces(home.prefix)).sort();
    expect(before).toHaveLength(2);
    await kube.kill9();
    await kube.start();
    await kube.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    expect(ownLaunchers(home.home).sort()).toEqual(before);
    expect((await podNamespaces(home.prefix)).sort()).toEqual(namespacesBefore);
    expect(
      await kube.jsonpath(
        ['pods', '-l', 'app=steady'],
        '{.items[*].status.containerStatuses[0].restartCount}',
      ),
    ).toBe('0 0');
    // A crash of every sgpods process also takes the launchers (which record exit codes); the
    // containers live on and are adopted through their inits, not started again beside
    // themselves (where a server would find its port taken).
    /** The containers' inits (tini, PID 1 of each container) in the pods' namespaces. */
    const inPods = async () =>
      (
        await Promise.all(
          (await podNamespaces(home.prefix)).map(async (namespace) =>
            (await runCommand(['ip', 'netns', 'pids', namespace])).stdout.trim().split('\n'),
          ),
        )
      )
        .flat()
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tini';
          } catch {
            return false;
          }
        })
        .sort();
    const containersBefore = await inPods();
    expect(containersBefore).toHaveLength(2);
    const nodesDirectory = join(home.home, 'kube', 'nodes');
    /** The pods' records (what the next kubelet reads), with their paths. */
    const records = () =>
      readdirSync(nodesDirectory).flatMap((node) => {
        const pods = join(nodesDirectory, node, 'pods');
        return (existsSync(pods) ? readdirSync(pods) : [])
          .map((uid) => join(pods, uid, 'record.json'))
          .filter((path) => existsSync(path))
          .map((path) => ({
            path,
            record: JSON.parse(readFileSync(path, 'utf8')) as {
              name: string;
              containers: Record<string, { init?: unknown }>;
            },
          }));
      });
    // The kubelet has seen each container's init (it looks a few ms after the start).
    await waitFor(
      () =>
        records()
          .filter(({ record }) => record.name.startsWith('steady-'))
          .every(({ record }) => Object.values(record.containers).every((c) => c.init)),
      { timeoutMs: 10_000, what: 'the inits in the pod records' },
    );
    await kube.kill9();
    for (const pid of ownLaunchers(home.home)) process.kill(pid, 'SIGKILL');
    await waitFor(() => ownLaunchers(home.home).length === 0, {
      timeoutMs: 10_000,
      what: 'the launchers to die',
    });
    await kube.start();
    await kube.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    expect(await inPods()).toEqual(containersBefore);
    expect(
      await kube.jsonpath(
        ['pods', '-l', 'app=steady'],
        '{.items[*].status.containerStatuses[0].restartCount}',
      ),
    ).toBe('0 0');
    // Once more, as if the kubelet had died before it saw the inits: the records name only the
    // dead launchers. What still runs in the pods' namespaces goes before the containers start
    // again — once each, not beside themselves.
    await kube.kill9();
    for (const pid of ownLaunchers(home.home)) process.kill(pid, 'SIGKILL');
    await waitFor(() => ownLaunchers(home.home).length === 0, {
      timeoutMs: 10_000,
      what: 'the launchers to die',
    });
    for (const { path, record } of records()) {
      for (const container of Object.values(record.containers)) delete container.init;
      writeFileSync(path, JSON.stringify(record));
    }
    await kube.start();
    await kube.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    let seen: string[] = [];
    await waitFor(
      async () => {
        seen = await inPods();
        return seen.length === 2 && seen.every((pid) => !containersBefore.includes(pid));
      },
      {
        timeoutMs: 30_000,
        what: 'the old containers gone and one new one per pod',
        lastSeen: () => seen.join(' '),
      },
    );
    expect(
      await kube.jsonpath(
        ['pods', '-l', 'app=steady'],
        '{.items[*].status.containerStatuses[0].restartCount}',
      ),
    ).toBe('1 1');
    await kube.kubectlOk(['delete', 'deployment', 'steady']);
    await waitFor(
      async () =>
        (await podNamespaces(home.prefix)).length === 0 && ownLaunchers(home.home).length === 0,
      {
        timeoutMs: 60_000,
        what: 'the adopted pods to be stopped and removed',
      },
    );
  });
});
