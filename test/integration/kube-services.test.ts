/**
 * Cluster services on `sgpods kube` with the real kubectl: `kubectl expose` gives a ClusterIP
 * that pods reach through every node's kube-proxy rules (and the Docker-links env names it),
 * endpoints follow scaling, deleting the Service removes its rules; pods reach the API server
 * as in-cluster clients (@kubernetes/client-node `loadFromCluster()`, RBAC applied to their
 * service account); hostNetwork pods run in their node's namespace.
 */
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
    kube = new KubeProcess(home.home, ['--nodes', '2']);
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

  it("runs hostNetwork pods in their node's namespace", async () => {
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: on-host}
spec:
  hostNetwork: true
  nodeName: node-2
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'ip -4 -o addr show dev eth0']
`,
    );
    await waitFor(
      async () => (await kube.jsonpath(['pod', 'on-host'], '{.status.phase}')) === 'Succeeded',
      {
        timeoutMs: 60_000,
        what: 'the hostNetwork pod to finish',
      },
    );
    expect(await kube.jsonpath(['pod', 'on-host'], '{.status.podIP}')).toBe('10.250.2.2');
    expect(await logsOf('on-host')).toContain('inet 10.250.2.2/24');
    await kube.kubectlOk(['delete', 'pod', 'on-host']);
    // The node's namespace is still there after its hostNetwork pod went.
    expect(await home.ownedNamespaces()).toContain(`${home.prefix}n2`);
  });
});
