/**
 * The sandbox as `sgpods up` wires it, driven with the real clients: nodes are EC2 instances of
 * the cloud (kubectl and the aws CLI agree on them), regular pods take secondary addresses of
 * their node's interface and carry its security group, pods reach the API server and the EC2
 * endpoint only at VPC addresses (loadFromCluster(), the SDK's default chain), node groups come
 * and go with their instances, and `sgpods down --purge` leaves the machine as it found it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { instanceNamespaceName } from '../../src/core/kernel-names.js';
import { cliPath, repoRoot } from '../support/run-cli.js';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

type Json = Record<string, unknown>;

interface Snapshot {
  readonly namespaces: string[];
  readonly netnsFiles: string[];
  readonly hostLinks: string[];
  readonly hostNftTables: string[];
  readonly mounts: string[];
}

/** What of the machine could carry the home's mark: namespaces, links, nft tables, mounts. */
async function snapshot(prefix: string, home: string): Promise<Snapshot> {
  const { stdout } = await runCommand(['ip', 'netns', 'list']);
  const links = await runCommand(['ip', '-o', 'link', 'show']);
  const tables = await runCommand(['nft', 'list', 'tables']);
  return {
    namespaces: stdout
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(prefix))
      .sort(),
    netnsFiles: existsSync('/etc/netns')
      ? readdirSync('/etc/netns')
          .filter((name) => name.startsWith(prefix))
          .sort()
      : [],
    hostLinks: links.stdout
      .split('\n')
      .map((line) => line.split(': ')[1]?.split('@')[0] ?? '')
      .filter((name) => name.startsWith(prefix))
      .sort(),
    hostNftTables: tables.stdout
      .split('\n')
      .filter((line) => line.includes(prefix))
      .sort(),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((line) => line.includes(prefix) || line.includes(home))
      .sort(),
  };
}

async function processesOf(home: string): Promise<string[]> {
  const { stdout } = await runCommand(['ps', '-eo', 'pid=,args='], { okExitCodes: [0, 1] });
  return stdout.split('\n').filter((line) => line.includes(home) && !line.includes(' ps -eo'));
}

describe.skipIf(!isRoot)('the sandbox: sgpods up', () => {
  let home: TestHome;
  let sandbox: SandboxProcess;
  let before: Snapshot;
  const listeners: ChildProcess[] = [];

  beforeAll(async () => {
    home = createTestHome();
    sandbox = new SandboxProcess(home.home);
    before = await snapshot(home.prefix, home.home);
    await sandbox.sgpodsOk(['up']);
  });

  afterAll(async () => {
    for (const listener of listeners) listener.kill('SIGKILL');
    await sandbox?.sgpods(['down', '--purge']);
    await home?.cleanup();
  });

  const podLogs = async (pod: string) => (await sandbox.kubectl(['logs', pod])).stdout;

  /** Runs a one-shot pod to completion; its logs. */
  async function runPod(name: string, command: readonly string[], env: Json = {}): Promise<string> {
    const overrides = {
      spec: {
        containers: [
          {
            name,
            image: 'busybox',
            command,
            env: Object.entries(env).map(([key, value]) => ({ name: key, value })),
          },
        ],
      },
    };
    await sandbox.kubectlOk([
      'run',
      name,
      '--image=busybox',
      '--restart=Never',
      `--overrides=${JSON.stringify(overrides)}`,
    ]);
    await waitFor(
      async () =>
        /Succeeded|Failed/.test(
          await sandbox.kubectlOk(['get', 'pod', name, '-o', 'jsonpath={.status.phase}']),
        ),
      { timeoutMs: 90_000, what: `pod ${name} to finish` },
    );
    return podLogs(name);
  }

  it('brings up two t3.large nodes that are EC2 instances of the cloud, and says so', async () => {
    const nodes = JSON.parse(await sandbox.kubectlOk(['get', 'nodes', '-o', 'json'])) as {
      items: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { providerID: string };
      }[];
    };
    expect(nodes.items).toHaveLength(2);
    const wide = await sandbox.kubectlOk(['get', 'nodes', '-o', 'wide']);
    const { Reservations = [] } = await sandbox.awsJson<{
      Reservations?: {
        Instances: {
          InstanceId: string;
          PrivateIpAddress: string;
          InstanceType: string;
          Tags: { Key: string; Value: string }[];
          Placement: { AvailabilityZone: string };
        }[];
      }[];
    }>(['ec2', 'describe-instances', '--filters', 'Name=tag:eks:nodegroup-name,Values=nodegroup']);
    const instances = Reservations.flatMap((reservation) => reservation.Instances);
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      const name = `ip-${instance.PrivateIpAddress.replaceAll('.', '-')}.us-west-2.compute.internal`;
      const node = nodes.items.find((item) => item.metadata.name === name);
      expect(node?.spec.providerID).toBe(
        `aws:///${instance.Placement.AvailabilityZone}/${instance.InstanceId}`,
      );
      expect(node?.metadata.labels).toMatchObject({
        'node.kubernetes.io/instance-type': 't3.large',
        'topology.kubernetes.io/zone': instance.Placement.AvailabilityZone,
        'eks.amazonaws.com/nodegroup': 'nodegroup',
      });
      expect(node?.metadata.labels['eks.amazonaws.com/nodegroup-image']).toMatch(/^ami-/);
      expect(wide).toMatch(
        new RegExp(
          `${name}\\s+Ready\\s.*\\s${instance.PrivateIpAddress.replaceAll('.', '\\.')}\\s`,
        ),
      );
      expect(instance.InstanceType).toBe('t3.large');
      expect(instance.Tags).toEqual(
        expect.arrayContaining([{ Key: 'eks:cluster-name', Value: 'eksworkshop-eksctl' }]),
      );
    }
    const { cluster } = await sandbox.awsJson<{
      cluster: {
        resourcesVpcConfig: { vpcId: string; clusterSecurityGroupId: string };
        endpoint: string;
        certificateAuthority: { data: string };
      };
    }>(['eks', 'describe-cluster', '--name', 'eksworkshop-eksctl']);
    expect(cluster.resourcesVpcConfig.vpcId).toMatch(/^vpc-/);
    expect(Buffer.from(cluster.certificateAuthority.data, 'base64').toString()).toContain(
      'BEGIN CERTIFICATE',
    );
    // The nodes' primary interfaces carry the cluster security group.
    const { NetworkInterfaces = [] } = await sandbox.awsJson<{
      NetworkInterfaces?: { Groups: { GroupId: string }[] }[];
    }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      `Name=attachment.instance-id,Values=${instances.map((instance) => instance.InstanceId).join(',')}`,
    ]);
    expect(NetworkInterfaces).toHaveLength(2);
    for (const eni of NetworkInterfaces)
      expect(eni.Groups.map((group) => group.GroupId)).toEqual([
        cluster.resourcesVpcConfig.clusterSecurityGroupId,
      ]);
    // A second `up` finds everything running; `status` agrees.
    expect(await sandbox.sgpodsOk(['up'])).toContain('ready');
    expect(await sandbox.sgpodsOk(['status'])).toMatch(/Ready.*nodegroup.*t3\.large/);
  });

  it("gives a regular pod a secondary address of its node's interface, carrying the node's group", async () => {
    const { cluster } = await sandbox.awsJson<{
      cluster: {
        resourcesVpcConfig: { vpcId: string; clusterSecurityGroupId: string; subnetIds: string[] };
      };
    }>(['eks', 'describe-cluster', '--name', 'eksworkshop-eksctl']);
    const vpc = cluster.resourcesVpcConfig;
    const group = async (name: string) =>
      (
        await sandbox.awsJson<{ GroupId: string }>([
          'ec2',
          'create-security-group',
          '--group-name',
          name,
          '--description',
          name,
          '--vpc-id',
          vpc.vpcId,
        ])
      ).GroupId;
    const allowing = await group('allows-cluster');
    const other = await group('allows-nothing');
    await sandbox.awsJson([
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      allowing,
      '--protocol',
      'tcp',
      '--port',
      '8080',
      '--source-group',
      vpc.clusterSecurityGroupId,
    ]);
    const launch = async (groupId: string) => {
      const { Instances } = await sandbox.awsJson<{
        Instances: { InstanceId: string; PrivateIpAddress: string }[];
      }>([
        'ec2',
        'run-instances',
        '--image-id',
        'ami-0f1e2d3c4b5a69788',
        '--instance-type',
        't3.micro',
        '--subnet-id',
        vpc.subnetIds[0] ?? '',
        '--security-group-ids',
        groupId,
      ]);
      const instance = Instances[0];
      if (!instance) throw new Error('no instance launched');
      await waitFor(
        async () =>
          JSON.stringify(
            await sandbox.awsJson([
              'ec2',
              'describe-instances',
              '--instance-ids',
              instance.InstanceId,
            ]),
          ).includes('"running"'),
        { timeoutMs: 60_000, what: `${instance.InstanceId} to run` },
      );
      const namespace = instanceNamespaceName(home.prefix, instance.InstanceId);
      const listener = spawn(
        'ip',
        ['netns', 'exec', namespace, '/usr/bin/python3', '-m', 'http.server', '8080'],
        { stdio: 'ignore' },
      );
      listeners.push(listener);
      await waitFor(
        async () =>
          (await runCommand(['ip', 'netns', 'exec', namespace, 'ss', '-ltn'])).stdout.includes(
            ':8080',
          ),
        { timeoutMs: 30_000, what: 'the listener in the instance' },
      );
      return instance.PrivateIpAddress;
    };
    const allowedIp = await launch(allowing);
    const otherIp = await launch(other);
    const connect = (ip: string) => [
      '/usr/bin/python3',
      '-c',
      `import socket\ntry:\n    socket.create_connection(('${ip}', 8080), timeout=3)\n    print('connected')\nexcept Exception as error:\n    print('failed:', error)`,
    ];
    expect(await runPod('reach-allowed', connect(allowedIp))).toContain('connected');
    expect(await runPod('reach-other', connect(otherIp))).toContain('failed: timed out');

    const pod = JSON.parse(
      await sandbox.kubectlOk(['get', 'pod', 'reach-allowed', '-o', 'json']),
    ) as {
      spec: { nodeName: string };
      status: { podIP: string };
    };
    const node = JSON.parse(
      await sandbox.kubectlOk(['get', 'node', pod.spec.nodeName, '-o', 'json']),
    ) as { spec: { providerID: string } };
    const instanceId = node.spec.providerID.split('/').pop() ?? '';
    const { NetworkInterfaces = [] } = await sandbox.awsJson<{
      NetworkInterfaces?: {
        PrivateIpAddresses: { PrivateIpAddress: string; Primary: boolean }[];
      }[];
    }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      `Name=attachment.instance-id,Values=${instanceId}`,
      'Name=attachment.device-index,Values=0',
    ]);
    expect(NetworkInterfaces[0]?.PrivateIpAddresses).toContainEqual(
      expect.objectContaining({ PrivateIpAddress: pod.status.podIP, Primary: false }),
    );
    await sandbox.kubectlOk(['delete', 'pod', 'reach-allowed', 'reach-other']);
  });

  it('lets pods reach the API server (loadFromCluster) and EC2 (the SDK) only at VPC addresses', async () => {
    const script = join(home.home, 'in-vpc-clients.mjs');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
import { KubeConfig, CoreV1Api } from ${JSON.stringify(join(repoRoot, 'node_modules/@kubernetes/client-node/dist/index.js'))};
const require = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))});
const { EC2Client, DescribeInstancesCommand } = require('@aws-sdk/client-ec2');
const config = new KubeConfig();
config.loadFromCluster();
const pods = await config.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' });
console.log('kube: ' + pods.items.length + ' pods at ' + config.getCurrentCluster().server);
const ec2 = new EC2Client({});
const endpoint = await ec2.config.endpointProvider({ Region: await ec2.config.region() });
const { Reservations } = await ec2.send(new DescribeInstancesCommand({}));
console.log('ec2: ' + Reservations.length + ' reservations at ' + endpoint.url.hostname);
const inVpc = new KubeConfig();
inVpc.loadFromFile(process.env.IN_VPC_KUBECONFIG);
const nodes = await inVpc.makeApiClient(CoreV1Api).listNode();
console.log('in-vpc kubeconfig: ' + nodes.items.length + ' nodes at ' + inVpc.getCurrentCluster().server);
`,
    );
    await sandbox.kubectlOk([
      'create',
      'clusterrolebinding',
      'default-view',
      '--clusterrole=view',
      '--serviceaccount=default:default',
    ]);
    const logs = await runPod('in-vpc', [process.execPath, script], {
      AWS_REGION: 'us-west-2',
      NODE_EXTRA_CA_CERTS: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      IN_VPC_KUBECONFIG: join(home.home, 'kube', 'kubeconfig-in-vpc'),
    });
    expect(logs).toMatch(/kube: \d+ pods at https:\/\/10\.100\.0\.1:443/);
    expect(logs).toMatch(/ec2: \d+ reservations at ec2\.us-west-2\.amazonaws\.com/);
    // The kubeconfig for the VPC is the host's with the endpoint's name as server.
    const { cluster } = await sandbox.awsJson<{ cluster: { endpoint: string } }>([
      'eks',
      'describe-cluster',
      '--name',
      'eksworkshop-eksctl',
    ]);
    expect(logs).toContain(`in-vpc kubeconfig: 2 nodes at ${cluster.endpoint}`);
    expect(
      readFileSync(join(home.home, 'kube', 'kubeconfig-in-vpc'), 'utf8').replace(
        cluster.endpoint,
        'SERVER',
      ),
    ).toBe(
      readFileSync(join(home.home, 'kubeconfig'), 'utf8').replace(
        /https:\/\/127\.0\.0\.1:\d+/,
        'SERVER',
      ),
    );
    // The `kubernetes` Service leads to the control plane's interface in the VPC.
    const { NetworkInterfaces = [] } = await sandbox.awsJson<{
      NetworkInterfaces?: { PrivateIpAddress: string; RequesterManaged: boolean }[];
    }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      'Name=description,Values=Amazon EKS eksworkshop-eksctl',
    ]);
    expect(NetworkInterfaces[0]?.RequesterManaged).toBe(true);
    expect(
      await sandbox.kubectlOk([
        'get',
        'endpoints',
        'kubernetes',
        '-o',
        'jsonpath={.subsets[0].addresses[0].ip}',
      ]),
    ).toBe(NetworkInterfaces[0]?.PrivateIpAddress);
    await sandbox.kubectlOk(['delete', 'pod', 'in-vpc']);
  });

  it('adds an m5.large node group as eksctl does, and deletes it with its instance', async () => {
    const file = join(home.home, 'nodegroup.yaml');
    writeFileSync(
      file,
      `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: eksworkshop-eksctl
  region: us-west-2
managedNodeGroups:
  - name: nodegroup-sec-group
    instanceType: m5.large
    desiredCapacity: 1
`,
    );
    const created = await sandbox.sgpodsOk(['nodegroup', 'create', '-f', file]);
    expect(created).toMatch(
      /node ip-[\d-]+\.us-west-2\.compute\.internal \(nodegroup-sec-group\) is Ready/,
    );
    const names = await sandbox.kubectlOk([
      'get',
      'nodes',
      '-l',
      'node.kubernetes.io/instance-type=m5.large',
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ]);
    expect(names.split(' ')).toHaveLength(1);
    const { Reservations = [] } = await sandbox.awsJson<{
      Reservations?: { Instances: { InstanceId: string }[] }[];
    }>([
      'ec2',
      'describe-instances',
      '--filters',
      'Name=tag:eks:nodegroup-name,Values=nodegroup-sec-group',
    ]);
    const instanceId = Reservations[0]?.Instances[0]?.InstanceId ?? '';
    expect(instanceId).toMatch(/^i-/);
    // An existing group is left out, as eksctl does.
    expect(await sandbox.sgpodsOk(['nodegroup', 'create', '-f', file])).toContain(
      'existing nodegroup nodegroup-sec-group will be excluded',
    );
    await sandbox.sgpodsOk(['nodegroup', 'delete', '-f', file]);
    expect(
      await sandbox.kubectlOk([
        'get',
        'nodes',
        '-l',
        'node.kubernetes.io/instance-type=m5.large',
        '-o',
        'name',
      ]),
    ).toBe('');
    await waitFor(
      async () =>
        JSON.stringify(
          await sandbox.awsJson(['ec2', 'describe-instances', '--instance-ids', instanceId]),
        ).includes('"terminated"'),
      { timeoutMs: 60_000, what: `${instanceId} to terminate` },
    );
    const missing = await sandbox.sgpods(['nodegroup', 'delete', '--name', 'no-such-group']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nodegroup "no-such-group" not found');
  });

  it('repairs a killed cluster on the next up: same pods, same addresses, nothing restarted', async () => {
    await sandbox.kubectlOk([
      'create',
      'deployment',
      'steady',
      '--image=busybox',
      '--replicas=2',
      '--',
      'sleep',
      '3600',
    ]);
    await sandbox.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    const pods = () =>
      sandbox.kubectlOk([
        'get',
        'pods',
        '-l',
        'app=steady',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].restartCount}{"\\n"}{end}',
      ]);
    const before = await pods();
    const pid = Number(readFileSync(join(home.home, 'run', 'kube.pid'), 'utf8').split(' ')[0]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !existsSync(`/proc/${String(pid)}`), {
      timeoutMs: 10_000,
      what: 'the cluster to die',
    });
    expect(await sandbox.sgpodsOk(['up'])).toContain('starting the cluster');
    await sandbox.kubectlOk(['rollout', 'status', 'deployment/steady', '--timeout=120s']);
    expect(await pods()).toBe(before);
    expect(before).toMatch(/ 0\n.* 0$/s);
    await sandbox.kubectlOk(['delete', 'deployment', 'steady']);
  });

  it('recovers on the next up after kill -9 of every sandbox process, also when its port is taken', async () => {
    const cloudUrl = readFileSync(join(home.home, 'aws-env'), 'utf8').match(
      /AWS_ENDPOINT_URL='http:\/\/127\.0\.0\.1:(\d+)'/,
    );
    const dnsRestarts = () =>
      sandbox.kubectlOk([
        '-n',
        'kube-system',
        'get',
        'pods',
        '-l',
        'k8s-app=kube-dns',
        '-o',
        'jsonpath={.items[*].status.containerStatuses[0].restartCount}',
      ]);
    const restartsBefore = await dnsRestarts();
    const victims = (await processesOf(home.home)).map((line) => Number(line.trim().split(' ')[0]));
    expect(victims.length).toBeGreaterThan(5);
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already (a child of one killed before).
      }
    }
    await waitFor(async () => (await processesOf(home.home)).length === 0, {
      timeoutMs: 20_000,
      what: 'every process of the home to die',
    });
    // The cloud's last port, taken meanwhile by someone else.
    const squatter = spawn(
      '/usr/bin/python3',
      [
        '-c',
        `import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${cloudUrl?.[1] ?? '0'})); s.listen(); time.sleep(600)`,
      ],
      { stdio: 'ignore' },
    );
    listeners.push(squatter);
    await waitFor(
      async () =>
        (await runCommand(['ss', '-Hltn', `sport = :${cloudUrl?.[1] ?? '0'}`])).stdout.trim() !==
        '',
      { timeoutMs: 10_000, what: "someone else on the cloud's port" },
    );
    const up = await sandbox.sgpods(['up']);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    expect(up.stdout).toContain('starting the cloud');
    expect(readFileSync(join(home.home, 'logs', 'cloud.log'), 'utf8')).toContain(
      `port ${cloudUrl?.[1] ?? ''} is taken; choosing another`,
    );
    expect((await sandbox.sgpods(['status'])).code).toBe(0);
    // The DNS containers outlived their launchers and were adopted, not started beside themselves.
    expect(await dnsRestarts()).toBe(restartsBefore);
    await sandbox.kubectlOk([
      'create',
      'deployment',
      'after-crash',
      '--image=busybox',
      '--',
      'sleep',
      '3600',
    ]);
    await sandbox.kubectlOk(['rollout', 'status', 'deployment/after-crash', '--timeout=120s']);
    await sandbox.kubectlOk(['delete', 'deployment', 'after-crash']);
    const again = await sandbox.sgpodsOk(['up']);
    expect(again).toMatch(/^up: the cloud runs \(pid \d+\)$/m);
    expect(again).toMatch(/^up: the cluster runs \(pid \d+\)$/m);
    expect(again).toMatch(/^up: the dashboard runs \(pid \d+\)$/m);
    expect(again).toMatch(/^ {4}dashboard: http:\/\/127\.0\.0\.1:\d+\/ /m);
  });

  it('refuses an unknown instance type and a user who is not root, starting nothing', async () => {
    const file = join(home.home, 'odd.yaml');
    writeFileSync(
      file,
      'apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: eksworkshop-eksctl, region: us-west-2}\nmanagedNodeGroups:\n- name: odd\n  instanceType: m5.galactic\n',
    );
    const odd = await sandbox.sgpods(['up', '-f', file]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('unknown instance type "m5.galactic"');
    const elsewhere = join(home.home, 'never-made');
    // A user namespace without a mapping: uid 65534, the files still readable.
    const notRoot = await runCommand(
      ['unshare', '--user', '--', process.execPath, cliPath, '--home', elsewhere, 'up'],
      { okExitCodes: [2] },
    );
    expect(notRoot.stderr).toContain('needs root');
    expect(existsSync(elsewhere)).toBe(false);
  });

  it('refuses a cluster.yaml for another cluster on this home, and a malformed one', async () => {
    const file = join(home.home, 'other.yaml');
    writeFileSync(
      file,
      'apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: other, region: us-west-2}\n',
    );
    const other = await sandbox.sgpods(['up', '-f', file]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('this home runs cluster "eksworkshop-eksctl"');
    writeFileSync(
      file,
      'apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: x\n',
    );
    const malformed = await sandbox.sgpods(['up', '-f', file]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain(`couldn't parse config file "${file}"`);
  });

  it('goes with sgpods down --purge, leaving the machine as it was', async () => {
    for (const listener of listeners) listener.kill('SIGKILL');
    const down = await sandbox.sgpods(['down', '--purge']);
    expect(down.code).toBe(0);
    expect(await snapshot(home.prefix, home.home)).toEqual(before);
    expect(existsSync(home.home)).toBe(false);
    expect(await processesOf(home.home)).toEqual([]);
  });
});
