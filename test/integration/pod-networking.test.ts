/**
 * The node agent and its CNI plugin on the sandbox, by real packets (cni-sg.md A, DESIGN.md §3):
 * `ENABLE_POD_ENI=true` turns an m5.large into a trunked node (CNINode feature, trunk, label);
 * the workshop's green Deployment reads the RDS table through its branch ENI and red times out;
 * DNS for a strict-mode branch pod needs POD_SG → node group SG on 53; the strict and standard
 * cases P1–P3, P5–P7, P9 and a readiness probe in both modes; a live policy change seen by new
 * connections; fail-closed networking for a pod a policy matches without a branch ENI; and
 * restarts of the agent and the kubelet that leave no veth, route, rule, address or state file
 * behind.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { instanceNamespaceOf } from '../../src/servers/cloud/dataplane/compute-plane.js';
import { podNamespaceOf } from '../../src/servers/kube/runtime/kubelet/pod-sandbox.js';
import { repoRoot } from '../support/run-cli.js';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const cluster = 'eksworkshop-eksctl';
const password = 'eksworkshop-pass';
const nodeGroup = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: ${cluster}, region: us-west-2}
managedNodeGroups:
  - name: nodegroup-sec-group
    desiredCapacity: 1
    instanceType: m5.large
    labels: {pool: sgp}
`;

interface PodJson {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName?: string; hostNetwork?: boolean };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number }[];
  };
}

describe.skipIf(!isRoot)('pod networking through branch ENIs: the agent and its CNI plugin', () => {
  let home: TestHome;
  let sandbox: SandboxProcess;
  let sgpNode = '';
  let nodeNamespace = '';
  let instanceId = '';
  const groups: Record<string, string> = {};
  let rdsEndpoint = '';

  const kubectl = (...args: string[]) => sandbox.kubectlOk(args);
  const apply = (yaml: string) => sandbox.kubectlOk(['apply', '-f', '-'], yaml);
  const aws = (...args: string[]) => sandbox.awsJson(args);

  const pod = async (namespace: string, name: string): Promise<PodJson> =>
    JSON.parse(await kubectl('-n', namespace, 'get', 'pod', name, '-o', 'json')) as PodJson;

  const podsOf = async (namespace: string, label: string): Promise<PodJson[]> =>
    (
      JSON.parse(await kubectl('-n', namespace, 'get', 'pods', '-l', label, '-o', 'json')) as {
        items: PodJson[];
      }
    ).items;

  /** A TCP connection from inside a pod's (or the node's) namespace: 'connected' or the error. */
  const connect = async (namespace: string, host: string, port: number): Promise<string> => {
    const { stdout, stderr } = await runCommand(
      [
        'ip',
        'netns',
        'exec',
        namespace,
        'python3',
        '-c',
        `import socket\ntry:\n  socket.create_connection(('${host}', ${String(port)}), 2).close(); print('connected')\nexcept Exception as e: print(type(e).__name__)`,
      ],
      { okExitCodes: [0, 1] },
    );
    return (stdout.trim() || stderr.trim()).split('\n').pop() ?? '';
  };

  const netnsOf = (item: PodJson) => podNamespaceOf(home.prefix, item.metadata.uid);

  const waitReady = (namespace: string, name: string, timeoutMs = 90_000) =>
    kubectl(
      '-n',
      namespace,
      'wait',
      '--for=condition=Ready',
      `pod/${name}`,
      `--timeout=${String(timeoutMs / 1000)}s`,
    );

  const createGroup = (name: string, vpcId: string) => sandbox.createSecurityGroup(name, vpcId);

  const allow = (groupId: string, protocol: string, port: number, source: string) =>
    aws(
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      groupId,
      '--protocol',
      protocol,
      '--port',
      String(port),
      ...(source.startsWith('sg-') ? ['--source-group', source] : ['--cidr', source]),
    );

  /** A policy, then server dry runs until both webhook replicas know it (three in a row). */
  const policy = async (namespace: string, name: string, app: string, groupId: string) => {
    await apply(`apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  podSelector: {matchLabels: {app: ${app}}}
  securityGroups: {groupIds: [${groupId}]}
`);
    await sandbox.waitForPolicyInWebhooks(
      serverPod(namespace, `probe-${name}`, app),
      `policy ${namespace}/${name}`,
    );
  };

  /** A pod serving TCP 8080 (python's http.server) on the m5.large, optionally probed. */
  const serverPod = (
    namespace: string,
    name: string,
    app: string,
    options: { probe?: boolean; nodeSelector?: string } = {},
  ) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {app: ${app}}}
spec:
  nodeSelector: {${options.nodeSelector ?? 'pool: sgp'}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: debian
    command: [python3, -m, http.server, '8080']
${options.probe ? '    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}\n' : ''}`;

  const logsOf = async (namespace: string, label: string) =>
    (await sandbox.kubectl(['-n', namespace, 'logs', '-l', label, '--tail=20'])).stdout;

  const eventsOf = (namespace: string, name: string) => sandbox.eventsOf(namespace, name);

  const nodeRules = async () =>
    (await runCommand(['ip', '-n', nodeNamespace, '-4', 'rule', 'show'])).stdout;

  beforeAll(async () => {
    home = createTestHome();
    sandbox = new SandboxProcess(home.home);
    await sandbox.sgpodsOk(['up']);
    const file = join(home.home, 'sgp-nodegroup.yaml');
    writeFileSync(file, nodeGroup);
    await sandbox.sgpodsOk(['nodegroup', 'create', '-f', file]);
    sgpNode = await kubectl(
      'get',
      'nodes',
      '-l',
      'pool=sgp',
      '-o',
      'jsonpath={.items[0].metadata.name}',
    );
    const providerId = await kubectl('get', 'node', sgpNode, '-o', 'jsonpath={.spec.providerID}');
    instanceId = providerId.split('/').pop() ?? '';
    nodeNamespace = instanceNamespaceOf(home.prefix, instanceId);
    await kubectl(
      '-n',
      'kube-system',
      'rollout',
      'status',
      'deployment/vpc-resource-controller',
      '--timeout=120s',
    );
    await kubectl(
      '-n',
      'kube-system',
      'create',
      'configmap',
      'amazon-vpc-cni',
      '--from-literal=branch-eni-cooldown=30',
    );
    const vpcId = (await sandbox.awsJson<{ Vpcs: { VpcId: string }[] }>(['ec2', 'describe-vpcs']))
      .Vpcs[0]?.VpcId as string;
    for (const name of [
      'POD_SG',
      'RDS_SG',
      'OTHER_SG',
      'BARE_SG',
      'WEB_SG',
      'OPEN_SG',
      'NOEGRESS_SG',
    ])
      groups[name] = await createGroup(name, vpcId);
    groups.NODE_GROUP_SG = (
      await sandbox.awsJson<{
        cluster: { resourcesVpcConfig: { clusterSecurityGroupId: string } };
      }>(['eks', 'describe-cluster', '--name', cluster])
    ).cluster.resourcesVpcConfig.clusterSecurityGroupId;
    const sg = (name: string) => groups[name] ?? '';
    await allow(sg('RDS_SG'), 'tcp', 5432, sg('POD_SG'));
    // OTHER_SG: what green moves to — DNS as POD_SG has it, no PostgreSQL.
    await allow(sg('NODE_GROUP_SG'), 'udp', 53, sg('OTHER_SG'));
    await allow(sg('NODE_GROUP_SG'), 'tcp', 53, sg('OTHER_SG'));
    await allow(sg('WEB_SG'), 'tcp', 8080, sg('NODE_GROUP_SG'));
    await allow(sg('OPEN_SG'), 'tcp', 8080, '0.0.0.0/0');
    await aws(
      'ec2',
      'revoke-security-group-egress',
      '--group-id',
      sg('NOEGRESS_SG'),
      '--protocol',
      '-1',
      '--cidr',
      '0.0.0.0/0',
    );
    const subnets = (
      await sandbox.awsJson<{ Subnets: { SubnetId: string }[] }>([
        'ec2',
        'describe-subnets',
        '--filters',
        `Name=vpc-id,Values=${vpcId}`,
        `Name=tag:Name,Values=eksctl-${cluster}-cluster/SubnetPublic*`,
      ])
    ).Subnets.map((subnet) => subnet.SubnetId);
    await aws(
      'rds',
      'create-db-subnet-group',
      '--db-subnet-group-name',
      'rds-eksworkshop',
      '--db-subnet-group-description',
      'rds-eksworkshop',
      '--subnet-ids',
      ...subnets,
    );
    await aws(
      'rds',
      'create-db-instance',
      '--db-instance-identifier',
      'rds-eksworkshop',
      '--db-name',
      'eksworkshop',
      '--db-instance-class',
      'db.t3.micro',
      '--engine',
      'postgres',
      '--db-subnet-group-name',
      'rds-eksworkshop',
      '--vpc-security-group-ids',
      sg('RDS_SG'),
      '--master-username',
      'eksworkshop',
      '--master-user-password',
      password,
      '--allocated-storage',
      '20',
    );
    await waitFor(
      async () => {
        const { DBInstances } = await sandbox.awsJson<{
          DBInstances: { DBInstanceStatus: string; Endpoint?: { Address: string } }[];
        }>(['rds', 'describe-db-instances', '--db-instance-identifier', 'rds-eksworkshop']);
        rdsEndpoint = DBInstances[0]?.Endpoint?.Address ?? '';
        return DBInstances[0]?.DBInstanceStatus === 'available';
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'the RDS instance to be available' },
    );
    for (const namespace of ['sg-per-pod', 'strict', 'late', 'standard'])
      await kubectl('create', 'namespace', namespace);
    await kubectl(
      '-n',
      'sg-per-pod',
      'create',
      'secret',
      'generic',
      'rds',
      `--from-literal=host=${rdsEndpoint}`,
      `--from-literal=password=${password}`,
    );
  }, 300_000);

  afterAll(async () => {
    await sandbox?.sgpods(['down', '--purge']);
    await home?.cleanup();
  });

  it('keeps green Pending until ENABLE_POD_ENI=true gives the m5.large its feature, trunk and label', async () => {
    await policy('sg-per-pod', 'allow-rds-access', 'green-pod', groups.POD_SG ?? '');
    for (const file of ['green-pod.yaml', 'red-pod.yaml'])
      await apply(readFileSync(join(repoRoot, 'examples/workshop', file), 'utf8'));
    await waitFor(
      async () =>
        (await kubectl(
          '-n',
          'sg-per-pod',
          'get',
          'pods',
          '-l',
          'app=green-pod',
          '-o',
          'jsonpath={.items[0].status.conditions[?(@.type=="PodScheduled")].status}',
        )) === 'False',
      { timeoutMs: 30_000, what: 'green to be unschedulable' },
    );
    expect(await kubectl('get', 'cninode', sgpNode, '-o', 'jsonpath={.spec.features}')).toBe('');

    await kubectl(
      '-n',
      'kube-system',
      'set',
      'env',
      'daemonset',
      'aws-node',
      'ENABLE_POD_ENI=true',
    );
    await kubectl('-n', 'kube-system', 'rollout', 'status', 'daemonset/aws-node', '--timeout=120s');
    await waitFor(
      async () =>
        (await kubectl(
          'get',
          'node',
          sgpNode,
          '-o',
          'jsonpath={.metadata.labels.vpc\\.amazonaws\\.com/has-trunk-attached}',
        )) === 'true',
      { timeoutMs: 60_000, what: 'the m5.large to be labelled has-trunk-attached=true' },
    );
    expect(await kubectl('get', 'cninode', sgpNode, '-o', 'jsonpath={.spec.features}')).toBe(
      '[{"name":"SecurityGroupsForPods"}]',
    );
    const trunks = await sandbox.awsJson<{
      NetworkInterfaces: { Attachment?: { Status: string } }[];
    }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      `Name=attachment.instance-id,Values=${instanceId}`,
      'Name=interface-type,Values=trunk',
    ]);
    expect(trunks.NetworkInterfaces.map((eni) => eni.Attachment?.Status)).toEqual(['attached']);
    // The t3.large nodes cannot trunk: neither label nor feature.
    expect(
      await kubectl('get', 'nodes', '-l', 'vpc.amazonaws.com/has-trunk-attached', '-o', 'name'),
    ).toBe(`node/${sgpNode}`);
    expect(
      (await kubectl('get', 'cninodes', '-o', 'jsonpath={.items[*].spec.features}')).trim(),
    ).toBe('[{"name":"SecurityGroupsForPods"}]');
    await kubectl('-n', 'sg-per-pod', 'rollout', 'status', 'deployment/green-pod', '--timeout=90s');
  }, 240_000);

  it('green cannot resolve RDS without POD_SG → node group SG on 53 (strict), then reads the table; red times out', async () => {
    await waitFor(
      async () => /could not translate host name/.test(await logsOf('sg-per-pod', 'app=green-pod')),
      // The resolver tries each search domain with its own timeouts first.
      { timeoutMs: 120_000, what: 'green to fail name resolution' },
    );
    await allow(groups.NODE_GROUP_SG ?? '', 'udp', 53, groups.POD_SG ?? '');
    await allow(groups.NODE_GROUP_SG ?? '', 'tcp', 53, groups.POD_SG ?? '');
    // The table goes in from a pod carrying POD_SG, as the workshop's Cloud9 did from its own.
    await policy('sg-per-pod', 'loader', 'loader', groups.POD_SG ?? '');
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: loader, namespace: sg-per-pod, labels: {app: loader}}
spec:
  restartPolicy: OnFailure
  containers:
  - name: psql
    image: debian
    env: [{name: PGCONNECT_TIMEOUT, value: '5'}]
    command: [psql, 'postgresql://eksworkshop:${password}@${rdsEndpoint}:5432/eksworkshop', -c,
      "CREATE TABLE welcome (column1 TEXT); INSERT INTO welcome VALUES ('--------------------------'), ('Welcome to the eksworkshop'), ('--------------------------');"]
`);
    await waitFor(async () => (await pod('sg-per-pod', 'loader')).status.phase === 'Succeeded', {
      timeoutMs: 90_000,
      what: 'the loader to create the table',
    });
    await waitFor(
      async () =>
        (await logsOf('sg-per-pod', 'app=green-pod')).includes('Welcome to the eksworkshop'),
      { timeoutMs: 60_000, what: 'green to print the rows' },
    );
    await waitFor(
      async () =>
        (await logsOf('sg-per-pod', 'app=red-pod')).includes(
          'Database connection failed due to timeout expired',
        ),
      { timeoutMs: 60_000, what: 'red to time out' },
    );
  }, 240_000);

  it('strict: same-node pods cross the VPC (P1, P2), probes pass, nothing is SNATed (P7), egress is the pod SG', async () => {
    await policy('strict', 'bare', 'bare', groups.BARE_SG ?? '');
    await policy('strict', 'web', 'web', groups.WEB_SG ?? '');
    await policy('strict', 'open', 'open', groups.OPEN_SG ?? '');
    await policy('strict', 'noegress', 'noegress', groups.NOEGRESS_SG ?? '');
    await apply(serverPod('strict', 'bare', 'bare'));
    await apply(serverPod('strict', 'web', 'web', { probe: true }));
    await apply(serverPod('strict', 'open', 'open'));
    await apply(serverPod('strict', 'noegress', 'noegress'));
    await apply(serverPod('strict', 'client', 'client'));
    for (const name of ['bare', 'web', 'open', 'noegress', 'client'])
      await waitReady('strict', name);
    const [bare, web, open, noegress, client] = await Promise.all(
      ['bare', 'web', 'open', 'noegress', 'client'].map((name) => pod('strict', name)),
    );
    if (!bare || !web || !open || !noegress || !client) throw new Error('pods missing');
    expect(client.spec.nodeName).toBe(bare.spec.nodeName);
    // P1: a regular pod on the same node meets BARE_SG's (empty) ingress in the VPC.
    expect(await connect(netnsOf(client), bare.status.podIP ?? '', 8080)).toBe('TimeoutError');
    // P2: WEB_SG admits the node group SG, which the regular pod's address carries.
    expect(await connect(netnsOf(client), web.status.podIP ?? '', 8080)).toBe('connected');
    // The kubelet's probe crossed the VPC too (WEB_SG admits the node): web is Ready.
    expect(web.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(await connect(nodeNamespace, bare.status.podIP ?? '', 8080)).toBe('TimeoutError');
    // Egress is the branch ENI's: NOEGRESS_SG stops even a connection OPEN_SG would admit.
    expect(await connect(netnsOf(client), open.status.podIP ?? '', 8080)).toBe('connected');
    expect(await connect(netnsOf(noegress), open.status.podIP ?? '', 8080)).toBe('TimeoutError');
    // P7: outside the VPC, the pod's packets leave through its VLAN with its own address.
    const routes = (await runCommand(['ip', '-n', nodeNamespace, 'route', 'show', 'table', 'all']))
      .stdout;
    const hostVeth = new RegExp(
      `^${(noegress.status.podIP ?? '').replaceAll('.', '\\.')} dev (vlan[0-9a-f]{11}) table 1\\d\\d`,
      'm',
    ).exec(routes)?.[1];
    expect(hostVeth).toBeDefined();
    const main = (await runCommand(['ip', '-n', nodeNamespace, 'route', 'show', 'table', 'main']))
      .stdout;
    expect(main).not.toContain(`${noegress.status.podIP ?? ''} `);
    const route = (
      await runCommand([
        'ip',
        '-n',
        nodeNamespace,
        'route',
        'get',
        '203.0.113.5',
        'from',
        noegress.status.podIP ?? '',
        'iif',
        hostVeth ?? '',
      ])
    ).stdout;
    expect(route).toMatch(/dev vlan\.eth\.\d+/);
    expect(await nodeRules()).toMatch(/^20:\s+from all lookup local$/m);
    expect(await nodeRules()).not.toMatch(/^0:\s+from all lookup local$/m);
  }, 240_000);

  it("follows a policy change on green's packets: new connections time out, no restart", async () => {
    const [before] = await podsOf('sg-per-pod', 'app=green-pod');
    await policy('sg-per-pod', 'allow-rds-access', 'green-pod', groups.OTHER_SG ?? '');
    await waitFor(
      async () => {
        const lines = (await logsOf('sg-per-pod', 'app=green-pod')).trim().split('\n');
        return (lines.at(-1) ?? '').includes('Database connection failed due to timeout expired');
      },
      { timeoutMs: 90_000, what: "green's new connections to time out" },
    );
    const [after] = await podsOf('sg-per-pod', 'app=green-pod');
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.status.containerStatuses?.[0]?.restartCount).toBe(0);
  }, 180_000);

  it('never gives a policy pod without a branch ENI the node network (--recreate-unadmitted-pods=false)', async () => {
    await kubectl(
      '-n',
      'kube-system',
      'patch',
      'deployment',
      'vpc-resource-controller',
      '--type=json',
      '-p',
      '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--recreate-unadmitted-pods=false"}]',
    );
    await kubectl(
      '-n',
      'kube-system',
      'rollout',
      'status',
      'deployment/vpc-resource-controller',
      '--timeout=120s',
    );
    // Running before its policy: cut off once the policy exists.
    await apply(serverPod('late', 'early', 'late'));
    await apply(serverPod('late', 'later', 'late', { nodeSelector: 'pool: sgp, late: "yes"' }));
    await waitReady('late', 'early');
    const early = await pod('late', 'early');
    const [web] = await Promise.all([pod('strict', 'web')]);
    // web (WEB_SG) admits only the node group SG: what a node-ENI address could reach.
    expect(await connect(netnsOf(early), web?.status.podIP ?? '', 8080)).toBe('connected');
    await policy('late', 'late', 'late', groups.OPEN_SG ?? '');
    await waitFor(
      async () => (await connect(netnsOf(early), web?.status.podIP ?? '', 8080)) !== 'connected',
      {
        timeoutMs: 20_000,
        what: 'the early pod to be cut off',
      },
    );
    expect(await eventsOf('late', 'early')).toContain(
      'Warning PodNetworkIsolated aws-node: pod late/early matches SecurityGroupPolicy late',
    );
    // Admitted before its policy, scheduled after: ADD is refused, the pod stays ContainerCreating.
    await kubectl('label', 'node', sgpNode, 'late=yes');
    await waitFor(
      async () =>
        (await eventsOf('late', 'later')).includes(
          'Warning FailedCreatePodSandBox kubelet: Failed to create pod sandbox',
        ) &&
        (await eventsOf('late', 'later')).includes(
          'matches SecurityGroupPolicy late but has no vpc.amazonaws.com/pod-eni request',
        ),
      { timeoutMs: 60_000, what: 'ADD to refuse the later pod' },
    );
    const later = await pod('late', 'later');
    expect(later.status.podIP ?? '').toBe('');
    expect(later.status.phase).toBe('Pending');
    // The policy gone, the early pod is put back.
    await kubectl('-n', 'late', 'delete', 'sgp', 'late');
    await waitFor(
      async () => (await connect(netnsOf(early), web?.status.podIP ?? '', 8080)) === 'connected',
      {
        timeoutMs: 20_000,
        what: 'the early pod to be put back',
      },
    );
    await kubectl('-n', 'late', 'delete', 'pod', '--all', '--wait=true');
  }, 240_000);

  it('standard: same-node traffic and probes stay local (P3, P5), other hosts meet the pod SG (P9)', async () => {
    await kubectl(
      '-n',
      'kube-system',
      'set',
      'env',
      'daemonset',
      'aws-node',
      'POD_SECURITY_GROUP_ENFORCING_MODE=standard',
    );
    await kubectl('-n', 'kube-system', 'rollout', 'status', 'daemonset/aws-node', '--timeout=120s');
    await policy('standard', 'bare', 'bare', groups.BARE_SG ?? '');
    await policy('standard', 'noegress', 'noegress', groups.NOEGRESS_SG ?? '');
    await apply(serverPod('standard', 'bare', 'bare', { probe: true }));
    await apply(serverPod('standard', 'noegress', 'noegress'));
    await apply(serverPod('standard', 'client', 'client'));
    // P5: BARE_SG admits nothing, yet the kubelet's probe reaches the pod on its node.
    for (const name of ['bare', 'noegress', 'client']) await waitReady('standard', name);
    const [bare, noegress, client] = await Promise.all(
      ['bare', 'noegress', 'client'].map((name) => pod('standard', name)),
    );
    // The OPEN_SG pod (strict, so reached only through the VPC) admits anyone: client gets in.
    const open = await pod('strict', 'open');
    expect(await connect(netnsOf(client as PodJson), open.status.podIP ?? '', 8080)).toBe(
      'connected',
    );
    // P3: a regular pod on the same node reaches it directly.
    expect(await connect(netnsOf(client as PodJson), bare?.status.podIP ?? '', 8080)).toBe(
      'connected',
    );
    // P9: towards another host the pod leaves through its branch ENI and meets NOEGRESS_SG's egress.
    expect(await connect(netnsOf(noegress as PodJson), open.status.podIP ?? '', 8080)).toBe(
      'TimeoutError',
    );
    expect(await nodeRules()).toMatch(
      new RegExp(`^512:\\s+from all to ${bare?.status.podIP ?? ''} lookup main$`, 'm'),
    );
    expect(await nodeRules()).toMatch(/^0:\s+from all lookup local$/m);
  }, 240_000);

  it('leaves no veth, rule, route, address or state file behind across agent and kubelet restarts', async () => {
    const stateDir = join(home.home, 'run', 'aws-node', instanceId);
    const agentPod = await kubectl(
      '-n',
      'kube-system',
      'get',
      'pods',
      '-l',
      'k8s-app=aws-node',
      '--field-selector',
      `spec.nodeName=${sgpNode}`,
      '-o',
      'name',
    );
    // DEL while the agent restarts: branch pods from their state files, regular ones once it is back.
    await kubectl('-n', 'kube-system', 'delete', agentPod, '--wait=false');
    await kubectl('-n', 'standard', 'delete', 'pod', '--all', '--wait=false');
    // DEL after a kill -9 of the kubelets and the API server.
    const pid = Number(readFileSync(join(home.home, 'run', 'kube.pid'), 'utf8').split(' ')[0]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !existsSync(`/proc/${String(pid)}`), {
      timeoutMs: 10_000,
      what: 'the cluster to die',
    });
    await sandbox.sgpodsOk(['up']);
    for (const namespace of ['strict', 'sg-per-pod', 'standard'])
      await kubectl(
        '-n',
        namespace,
        'delete',
        'deployment,pod',
        '--all',
        '--wait=true',
        '--timeout=120s',
      );
    let lastSeen = '';
    await waitFor(
      async () => {
        const onNode = (
          JSON.parse(
            await kubectl(
              'get',
              'pods',
              '-A',
              '--field-selector',
              `spec.nodeName=${sgpNode}`,
              '-o',
              'json',
            ),
          ) as { items: PodJson[] }
        ).items.filter((item) => !item.spec.hostNetwork);
        const links = (await runCommand(['ip', '-n', nodeNamespace, '-br', 'link'])).stdout
          .split('\n')
          .map((line) => line.split(/[\s@]/)[0] ?? '')
          .filter((name) => /^(vlan|eni|veth)[0-9a-f]{11}$/.test(name));
        const rules = (await nodeRules())
          .split('\n')
          .filter((line) => /^(10|512|1536):/.test(line));
        const pool = JSON.parse(readFileSync(join(stateDir, 'ipam.json'), 'utf8')) as {
          allocations: object;
        };
        const files = (
          await runCommand(['ls', join(stateDir, 'pods')], { okExitCodes: [0, 2] })
        ).stdout.trim();
        lastSeen = JSON.stringify({
          pods: onNode.map((item) => item.metadata.name),
          links,
          rules,
          allocations: pool.allocations,
          files,
        });
        return (
          links.length === onNode.length &&
          rules.length === onNode.length &&
          Object.keys(pool.allocations).length === onNode.length &&
          files === ''
        );
      },
      {
        timeoutMs: 60_000,
        what: 'the node to hold only what its remaining pods use',
        lastSeen: () => lastSeen,
      },
    );
    const tables = (await runCommand(['ip', '-n', nodeNamespace, 'route', 'show', 'table', 'all']))
      .stdout;
    expect(tables).not.toMatch(/table 1\d\d\b/);
  }, 300_000);
});
