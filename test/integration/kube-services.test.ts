/**
 * Cluster services on `sgpods kube` with the real kubectl: `kubectl expose` gives a ClusterIP
 * that pods reach through every node's kube-proxy rules (and the Docker-links env names it),
 * endpoints follow scaling, deleting the Service removes its rules; pods reach the API server
 * as in-cluster clients (@kubernetes/client-node `loadFromCluster()`, RBAC applied to their
 * service account); hostNetwork pods run in their node's namespace; cluster DNS answers Service
 * and pod names and forwards the rest to the nodes' upstream resolver.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { KubeProcess } from '../support/kube-process.js';
import { repoRoot } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

describe.skipIf(!isRoot)('cluster services and the in-cluster contract', () => {
  let home: TestHome;
  let kube: KubeProcess;

  beforeAll(async () => {
    home = createTestHome();
    kube = new KubeProcess(home.home, ['--nodes', '2', '--upstream-dns', '10.250.0.1']);
    await kube.start();
  });

  afterAll(async () => {
    await kube?.down();
    expect(await home.ownedNamespaces()).toEqual([]);
    await home.cleanup();
  });

  const logsOf = async (pod: string) => (await kube.kubectl(['logs', pod])).stdout;

  it('exposes a Deployment on a ClusterIP that follows scaling and goes with the Service', async () => {
    await kube.kubectlOk([
      'create',
      'deployment',
      'web',
      '--image=busybox',
      '--replicas=2',
      '--',
      'sh',
      '-c',
      'cd /tmp && echo "hello from $HOSTNAME" > index.html && exec /usr/bin/python3 -m http.server 8080',
    ]);
    await kube.kubectlOk(['expose', 'deployment', 'web', '--port', '80', '--target-port', '8080']);
    await kube.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=120s']);
    const clusterIp = await kube.jsonpath(['service', 'web'], '{.spec.clusterIP}');
    expect(clusterIp).toMatch(/^10\.100\.\d+\.\d+$/);
    expect(await kube.kubectlOk(['get', 'service', 'web'])).toMatch(
      new RegExp(`web\\s+ClusterIP\\s+${clusterIp.replaceAll('.', '\\.')}\\s+<none>\\s+80/TCP`),
    );
    await waitFor(
      async () => (await kube.kubectlOk(['get', 'endpoints', 'web'])).split(':8080').length === 3,
      {
        timeoutMs: 30_000,
        what: 'two endpoints for web',
      },
    );
    // A client pod: the Service's variables name it; every request is answered by a backend.
    await kube.kubectlOk([
      'run',
      'client',
      '--image=busybox',
      '--',
      'sh',
      '-c',
      'echo "env $WEB_SERVICE_HOST:$WEB_SERVICE_PORT"; while true; do curl -s --max-time 2 http://$WEB_SERVICE_HOST/ || echo failed; sleep 0.3; done',
    ]);
    await waitFor(async () => (await logsOf('client')).includes('hello from web-'), {
      timeoutMs: 60_000,
      what: 'the client to reach web through its ClusterIP',
    });
    expect((await logsOf('client')).split('\n')[0]).toBe(`env ${clusterIp}:80`);

    await kube.kubectlOk(['scale', 'deployment/web', '--replicas=3']);
    await waitFor(
      async () => (await kube.kubectlOk(['get', 'endpoints', 'web'])).split(':8080').length === 4,
      {
        timeoutMs: 60_000,
        what: 'three endpoints after scaling',
      },
    );
    const slices = await kube.kubectlOk([
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=web',
    ]);
    expect(slices).toMatch(/web-\S+\s+IPv4\s+8080\s+10\.244/);

    await kube.kubectlOk(['delete', 'service', 'web']);
    const proxyTable = async () =>
      (
        await runCommand([
          'ip',
          'netns',
          'exec',
          `${home.prefix}n1`,
          'nft',
          'list',
          'table',
          'ip',
          'sgpods-proxy',
        ])
      ).stdout;
    await waitFor(async () => !(await proxyTable()).includes(clusterIp), {
      timeoutMs: 30_000,
      what: 'the rules of the deleted Service to go',
    });
    expect(await kube.kubectl(['get', 'endpoints', 'web'])).toMatchObject({ code: 1 });
    await kube.kubectlOk(['delete', 'pod', 'client', '--grace-period=1']);
    await kube.kubectlOk(['delete', 'deployment', 'web']);
  });

  it('lets a pod use loadFromCluster() as its service account, under RBAC', async () => {
    const script = join(home.home, 'list-pods.mjs');
    writeFileSync(
      script,
      `import { KubeConfig, CoreV1Api } from ${JSON.stringify(join(repoRoot, 'node_modules/@kubernetes/client-node/dist/index.js'))};
const config = new KubeConfig();
config.loadFromCluster();
const api = config.makeApiClient(CoreV1Api);
for (;;) {
  try {
    const pods = await api.listNamespacedPod({ namespace: 'default' });
    console.log('pods: ' + pods.items.map((pod) => pod.metadata.name).sort().join(','));
  } catch (error) {
    console.log('error: ' + (error.code ?? error.message));
  }
  await new Promise((done) => setTimeout(done, 500));
}
`,
    );
    await kube.kubectlOk(['run', 'lister', '--image=busybox', '--', process.execPath, script]);
    await waitFor(async () => (await logsOf('lister')).includes('error: 403'), {
      timeoutMs: 60_000,
      what: 'the default service account to be forbidden to list pods',
    });
    await kube.kubectlOk([
      'create',
      'rolebinding',
      'default-view',
      '--clusterrole=view',
      '--serviceaccount=default:default',
    ]);
    await waitFor(async () => (await logsOf('lister')).includes('pods: lister'), {
      timeoutMs: 60_000,
      what: 'the pod to list pods once bound to view',
    });
    await kube.kubectlOk(['delete', 'pod', 'lister', '--grace-period=1']);
  });

  it('resolves Services and pods by name through cluster DNS, and other names upstream', async () => {
    // The nodes' upstream resolver: a DNS server of the test in the router namespace.
    const upstreamScript = join(home.home, 'upstream-dns.mjs');
    writeFileSync(
      upstreamScript,
      `import { startDnsServer, dnsReply } from ${JSON.stringify(join(repoRoot, 'dist/adapters/dns/dns-server.js'))};
await startDnsServer({
  addresses: ['10.250.0.1'],
  port: 53,
  answer: (query) => {
    const question = query.questions[0];
    return question.name === 'db.example.internal' && question.type === 'A'
      ? dnsReply(query, 0, true, [{ name: question.name, type: 'A', ttl: 60, class: 'IN', data: '10.250.0.99' }])
      : dnsReply(query, 3, true);
  },
});
console.log('upstream ready');
`,
    );
    const upstream = spawn(
      'ip',
      ['netns', 'exec', `${home.prefix}cr`, process.execPath, upstreamScript],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      await new Promise((resolve) => upstream.stdout.once('data', resolve));
      await kube.kubectlOk([
        '-n',
        'kube-system',
        'rollout',
        'status',
        'deployment/coredns',
        '--timeout=120s',
      ]);
      expect(
        await kube.jsonpath(['-n', 'kube-system', 'service', 'kube-dns'], '{.spec.clusterIP}'),
      ).toBe('10.100.0.10');
      await kube.kubectlOk(['create', 'namespace', 'shop']);
      await kube.kubectlOk([
        '-n',
        'shop',
        'create',
        'deployment',
        'cart',
        '--image=busybox',
        '--',
        '/usr/bin/python3',
        '-m',
        'http.server',
        '80',
      ]);
      await kube.kubectlOk(['-n', 'shop', 'expose', 'deployment', 'cart', '--port', '80']);
      await kube.kubectlOk([
        '-n',
        'shop',
        'rollout',
        'status',
        'deployment/cart',
        '--timeout=120s',
      ]);
      const cartIp = await kube.jsonpath(['-n', 'shop', 'service', 'cart'], '{.spec.clusterIP}');
      await kube.kubectlOk([
        '-n',
        'shop',
        'run',
        'asker',
        '--image=busybox',
        '--restart=Never',
        '--',
        'sh',
        '-c',
        [
          'cat /etc/resolv.conf',
          'getent hosts cart',
          'getent hosts cart.shop.svc.cluster.local',
          'getent hosts kubernetes.default',
          'getent hosts nosuch.shop.svc.cluster.local || echo nosuch: not found',
          'getent hosts db.example.internal',
          'curl -s -o /dev/null -w "cart answers %{http_code}\\n" http://cart.shop/',
        ].join('; '),
      ]);
      await waitFor(
        async () =>
          (await kube.jsonpath(['-n', 'shop', 'pod', 'asker'], '{.status.phase}')) === 'Succeeded',
        { timeoutMs: 60_000, what: 'the asking pod to finish' },
      );
      const lines = (await kube.kubectlOk(['-n', 'shop', 'logs', 'asker']))
        .split('\n')
        .map((line) => line.replace(/\s+/g, ' '));
      expect(lines).toEqual([
        'search shop.svc.cluster.local svc.cluster.local cluster.local',
        'nameserver 10.100.0.10',
        'options ndots:5',
        `${cartIp} cart.shop.svc.cluster.local`,
        `${cartIp} cart.shop.svc.cluster.local`,
        '10.100.0.1 kubernetes.default.svc.cluster.local',
        'nosuch: not found',
        '10.250.0.99 db.example.internal',
        'cart answers 200',
      ]);
      await kube.kubectlOk(['delete', 'namespace', 'shop', '--timeout=120s']);
    } finally {
      upstream.kill();
    }
  });

  it("runs a hostNetwork DaemonSet's pods in their nodes' namespaces", async () => {
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: host-agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: host-agent}}
  template:
    metadata: {labels: {app: host-agent}}
    spec:
      hostNetwork: true
      containers:
      - name: agent
        image: busybox
        command: [sh, -c, 'ip -4 -o addr show dev eth0; exec sleep 3600']
`,
    );
    await kube.kubectlOk([
      '-n',
      'kube-system',
      'rollout',
      'status',
      'ds/host-agent',
      '--timeout=120s',
    ]);
    const pods = JSON.parse(
      await kube.kubectlOk([
        '-n',
        'kube-system',
        'get',
        'pods',
        '-l',
        'app=host-agent',
        '-o',
        'json',
      ]),
    ) as {
      items: {
        metadata: { name: string };
        spec: { nodeName: string };
        status: { podIP: string };
      }[];
    };
    expect(pods.items.map((pod) => pod.spec.nodeName).sort()).toEqual(['node-1', 'node-2']);
    for (const pod of pods.items) {
      const nodeIp = `10.250.${pod.spec.nodeName.slice('node-'.length)}.2`;
      expect(pod.status.podIP).toBe(nodeIp);
      await waitFor(
        async () =>
          (await kube.kubectl(['-n', 'kube-system', 'logs', pod.metadata.name])).stdout.includes(
            `inet ${nodeIp}/24`,
          ),
        { timeoutMs: 30_000, what: `${pod.metadata.name} to print its node's address` },
      );
    }
    await kube.kubectlOk(['-n', 'kube-system', 'delete', 'ds', 'host-agent']);
    await waitFor(
      async () =>
        (await kube.kubectlOk([
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'app=host-agent',
          '-o',
          'name',
        ])) === '',
      { timeoutMs: 60_000, what: 'the DaemonSet pods to go' },
    );
    // The nodes' namespaces stay after their hostNetwork pods went.
    const namespaces = await home.ownedNamespaces();
    expect(namespaces).toContain(`${home.prefix}n1`);
    expect(namespaces).toContain(`${home.prefix}n2`);
  });
});
