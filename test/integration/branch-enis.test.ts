/**
 * The controller's trunk and branch ENIs on the sandbox (rc.md §2, §4, §5), driven with kubectl
 * and checked with `aws ec2 describe-network-interfaces`: trunks and pod-eni capacity on m5.large
 * nodes (and `Unsupported` on a t3.large labelled by hand), a branch ENI per matching pod with
 * upstream's tags, annotation and events; the selector cases; capacity; live policy; waiting
 * without a policy (and upstream's fallback with the flag); self-healing admission; and AWS
 * faults and `kill -9` of the controller mid-allocation and mid-release, after which every
 * running pod that asks has exactly one annotated ENI and no branch ENI is left over.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const exec = promisify(execFile);
const cluster = 'eksworkshop-eksctl';
const nodeGroup = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: ${cluster}, region: us-west-2}
managedNodeGroups:
  - name: nodegroup-sec-group
    desiredCapacity: 2
    instanceType: m5.large
    labels: {pool: sgp}
`;

interface Eni {
  NetworkInterfaceId: string;
  Status: string;
  Groups: { GroupId: string }[];
  TagSet: { Key: string; Value: string }[];
}

interface PodJson {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string };
}

describe.skipIf(!isRoot)(
  'branch ENIs: trunks, allocation, cool-down, live policy, recovery',
  () => {
    let home: TestHome;
    let sandbox: SandboxProcess;
    let sgpNodes: string[] = [];
    let podSg = '';
    let otherSg = '';
    let thirdSg = '';
    let clusterSg = '';

    const kubectl = (...args: string[]) => sandbox.kubectlOk(args);
    const apply = (yaml: string) => sandbox.kubectlOk(['apply', '-f', '-'], yaml);

    const branchEnis = async (): Promise<Eni[]> =>
      (
        await sandbox.awsJson<{ NetworkInterfaces: Eni[] }>([
          'ec2',
          'describe-network-interfaces',
          '--filters',
          `Name=tag:kubernetes.io/cluster/${cluster},Values=owned`,
          'Name=description,Values=aws-k8s-branch-eni',
        ])
      ).NetworkInterfaces;

    const pods = async (namespace: string): Promise<PodJson[]> =>
      (
        JSON.parse(await kubectl('-n', namespace, 'get', 'pods', '-o', 'json')) as {
          items: PodJson[];
        }
      ).items;

    const annotationOf = (pod: PodJson) => {
      const text = pod.metadata.annotations?.['vpc.amazonaws.com/pod-eni'];
      return text ? (JSON.parse(text) as Record<string, unknown>[]) : undefined;
    };

    /** Every branch ENI in EC2 belongs to exactly one running annotated pod, and the reverse. */
    const settled = async (): Promise<boolean> => {
      const all = (
        JSON.parse(await kubectl('get', 'pods', '-A', '-o', 'json')) as { items: PodJson[] }
      ).items.filter((pod) => pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed');
      const annotated = all.flatMap((pod) => annotationOf(pod)?.map((eni) => eni.eniId) ?? []);
      const inEc2 = (await branchEnis()).map((eni) => eni.NetworkInterfaceId);
      return (
        new Set(annotated).size === annotated.length &&
        [...annotated].sort().join() === [...inEc2].sort().join()
      );
    };

    const eventsOf = (namespace: string, pod: string) => sandbox.eventsOf(namespace, pod);

    /** A pod of the sandbox's m5.large pool (or where `nodeSelector` says). */
    const podYaml = (
      name: string,
      namespace: string,
      labels: string,
      options: { serviceAccount?: string; nodeSelector?: string } = {},
    ) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}
spec:
  nodeSelector: {${options.nodeSelector ?? 'pool: sgp'}}
  serviceAccountName: ${options.serviceAccount ?? 'default'}
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox, command: [sleep, '3600']}]
`;

    /**
     * Applies a policy; with `probe` (pod labels), waits until server-side dry runs of such a pod
     * come back with the pod-eni request three times in a row (both replicas' caches have it).
     */
    const policy = async (
      name: string,
      namespace: string,
      spec: string,
      probe?: { labels: string; serviceAccount?: string },
    ) => {
      await apply(`apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}
`);
      if (!probe) return;
      await sandbox.waitForPolicyInWebhooks(
        podYaml(`probe-${name}`, namespace, probe.labels, probe),
        `policy ${namespace}/${name}`,
      );
    };

    const pod = (
      name: string,
      namespace: string,
      labels: string,
      options: { serviceAccount?: string; nodeSelector?: string } = {},
    ) => apply(podYaml(name, namespace, labels, options));

    const waitAnnotated = async (namespace: string, name: string, timeoutMs = 30_000) => {
      let enis: Record<string, unknown>[] | undefined;
      try {
        await waitFor(
          async () => {
            const found = (await pods(namespace)).find((each) => each.metadata.name === name);
            enis = found ? annotationOf(found) : undefined;
            return enis !== undefined;
          },
          { timeoutMs, intervalMs: 100, what: `${namespace}/${name} to be annotated` },
        );
      } catch (error) {
        const described = await sandbox.kubectl(['-n', namespace, 'describe', 'pod', name]);
        const lease = await sandbox.kubectl([
          '-n',
          'kube-system',
          'get',
          'lease',
          'cp-vpc-resource-controller',
          '-o',
          'jsonpath={.spec}',
        ]);
        const controllers = await sandbox.kubectl([
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'app=vpc-resource-controller',
          '-o',
          'wide',
        ]);
        const logs = await sandbox.kubectl([
          '-n',
          'kube-system',
          'logs',
          '-l',
          'app=vpc-resource-controller',
          '--tail=40',
        ]);
        const report = [described.stdout, lease.stdout, controllers.stdout, logs.stdout];
        throw new Error([(error as Error).message, ...report].join('\n'));
      }
      return enis ?? [];
    };

    const groupsOfEni = async (eniId: string) =>
      (await branchEnis())
        .find((eni) => eni.NetworkInterfaceId === eniId)
        ?.Groups.map((group) => group.GroupId) ?? [];

    const createGroup = (name: string, vpcId: string) => sandbox.createSecurityGroup(name, vpcId);

    beforeAll(async () => {
      home = createTestHome();
      sandbox = new SandboxProcess(home.home);
      await sandbox.sgpodsOk(['up']);
      const { writeFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      const file = join(home.home, 'sgp-nodegroup.yaml');
      writeFileSync(file, nodeGroup);
      await sandbox.sgpodsOk(['nodegroup', 'create', '-f', file]);
      await kubectl(
        '-n',
        'kube-system',
        'rollout',
        'status',
        'deployment/vpc-resource-controller',
        '--timeout=120s',
      );
      sgpNodes = (await kubectl('get', 'nodes', '-l', 'pool=sgp', '-o', 'name')).split('\n');
      // aws-node asks for the trunks (CNINode feature), as the workshop turns it on.
      await kubectl(
        '-n',
        'kube-system',
        'set',
        'env',
        'daemonset',
        'aws-node',
        'ENABLE_POD_ENI=true',
      );
      // Once the leader follows the nodes, the shorter cool-down is a change it announces.
      for (const node of sgpNodes)
        await waitFor(
          async () =>
            (await kubectl(
              'get',
              node,
              '-o',
              'jsonpath={.status.allocatable.vpc\\.amazonaws\\.com/pod-eni}',
            )) === '9',
          { timeoutMs: 60_000, what: `${node} to advertise pod-eni` },
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
      podSg = await createGroup('POD_SG', vpcId);
      otherSg = await createGroup('OTHER_SG', vpcId);
      thirdSg = await createGroup('THIRD_SG', vpcId);
      clusterSg = (
        await sandbox.awsJson<{
          cluster: { resourcesVpcConfig: { clusterSecurityGroupId: string } };
        }>(['eks', 'describe-cluster', '--name', cluster])
      ).cluster.resourcesVpcConfig.clusterSecurityGroupId;
      for (const namespace of ['sg-per-pod', 'selectors', 'capacity', 'recovery'])
        await kubectl('create', 'namespace', namespace);
      await policy(
        'allow-rds-access',
        'sg-per-pod',
        `  podSelector: {matchLabels: {app: green-pod}}\n  securityGroups: {groupIds: [${podSg}]}`,
        { labels: 'app: green-pod' },
      );
    }, 240_000);

    afterAll(async () => {
      await sandbox?.sgpods(['down', '--purge']);
      await home?.cleanup();
    });

    it('trunks the m5.large nodes (capacity 9) and tells a hand-labelled t3.large it is unsupported', async () => {
      const t3 = (
        await kubectl(
          'get',
          'nodes',
          '-l',
          'node.kubernetes.io/instance-type=t3.large',
          '-o',
          'name',
        )
      ).split('\n')[0] as string;
      await kubectl('label', t3, 'vpc.amazonaws.com/has-trunk-attached=true');
      const capacity = (node: string) =>
        kubectl('get', node, '-o', 'jsonpath={.status.allocatable.vpc\\.amazonaws\\.com/pod-eni}');
      for (const node of sgpNodes)
        await waitFor(async () => (await capacity(node)) === '9', {
          timeoutMs: 30_000,
          what: `${node} to advertise 9 pod-eni`,
        });
      const nodeEvents = (node: string) =>
        kubectl(
          'get',
          'events',
          '-n',
          'default',
          '--field-selector',
          `involvedObject.name=${node.replace('node/', '')}`,
          '-o',
          'jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\\n"}{end}',
        );
      await waitFor(
        async () =>
          (await nodeEvents(t3)).includes(
            'Warning Unsupported: The instance type t3.large is not supported for trunk interface (Security Group for Pods)',
          ),
        { timeoutMs: 30_000, what: 'the Unsupported event on the t3.large' },
      );
      expect(await capacity(t3)).toBe('');
      const events = await nodeEvents(sgpNodes[0] as string);
      expect(events).toContain(
        'Normal ControllerVersionNotice: The node is managed by VPC resource controller version v0.1.0',
      );
      expect(events).toContain(
        'Normal NodeTrunkInitiated: The node has trunk interface initialized successfully',
      );
      await waitFor(
        async () =>
          (await nodeEvents(sgpNodes[0] as string)).includes(
            'Normal BranchENICoolDownPeriodUpdated: Branch ENI cool down period has been updated to 30s',
          ),
        { timeoutMs: 15_000, what: 'the cool-down event' },
      );
      const trunks = (
        await sandbox.awsJson<{
          NetworkInterfaces: (Eni & {
            InterfaceType: string;
            Description: string;
            Attachment: { DeviceIndex: number; DeleteOnTermination: boolean };
          })[];
        }>(['ec2', 'describe-network-interfaces', '--filters', 'Name=interface-type,Values=trunk'])
      ).NetworkInterfaces;
      expect(trunks).toHaveLength(2);
      for (const trunk of trunks) {
        expect(trunk.Description).toBe('aws-k8s-trunk-eni');
        expect(trunk.Attachment).toMatchObject({ DeviceIndex: 2, DeleteOnTermination: true });
        expect(trunk.Groups.map((group) => group.GroupId)).toEqual([clusterSg]);
        expect(Object.fromEntries(trunk.TagSet.map((tag) => [tag.Key, tag.Value]))).toMatchObject({
          'eks:eni:owner': 'eks-vpc-resource-controller',
          [`kubernetes.io/cluster/${cluster}`]: 'owned',
          'node.k8s.amazonaws.com/instance_id': expect.stringMatching(/^i-/),
        });
      }
    });

    it('gives green one tagged branch ENI with POD_SG and the annotation; red gets none', async () => {
      await pod('green', 'sg-per-pod', 'app: green-pod');
      await pod('red', 'sg-per-pod', 'app: red-pod');
      const [eni, ...more] = await waitAnnotated('sg-per-pod', 'green');
      expect(more).toEqual([]);
      expect(Object.keys(eni ?? {})).toEqual([
        'eniId',
        'ifAddress',
        'privateIp',
        'ipv6Addr',
        'vlanId',
        'subnetCidr',
        'subnetV6Cidr',
        'associationID',
      ]);
      expect(eni).toMatchObject({ vlanId: 1, ipv6Addr: '', subnetV6Cidr: '' });
      const inEc2 = (await branchEnis()).find((each) => each.NetworkInterfaceId === eni?.eniId);
      expect(inEc2?.Status).toBe('in-use');
      expect(inEc2?.Groups.map((group) => group.GroupId)).toEqual([podSg]);
      expect(inEc2?.TagSet.map((tag) => tag.Key).sort()).toEqual(
        [
          'eks:eni:owner',
          `kubernetes.io/cluster/${cluster}`,
          'node.k8s.amazonaws.com/instance_id',
          'vpcresources.k8s.aws/trunk-eni-id',
          'vpcresources.k8s.aws/vlan-id',
        ].sort(),
      );
      const red = (await pods('sg-per-pod')).find((each) => each.metadata.name === 'red');
      expect(red && annotationOf(red)).toBeUndefined();
      const events = await eventsOf('sg-per-pod', 'green');
      expect(events).toContain(
        `Normal SecurityGroupRequested vpc-resource-controller: Pod will get the following Security Groups [${podSg}]`,
      );
      expect(events).toMatch(
        /Normal ResourceAllocated vpc-resource-controller: Allocated \[\{"eniId":"eni-/,
      );
      expect(await sandbox.kubectlOk(['-n', 'sg-per-pod', 'describe', 'pod', 'green'])).toContain(
        'ResourceAllocated',
      );
    });

    describe('which groups a pod gets', () => {
      it('matches a serviceAccountSelector', async () => {
        await kubectl('-n', 'selectors', 'create', 'serviceaccount', 'db-reader');
        await kubectl('-n', 'selectors', 'label', 'serviceaccount', 'db-reader', 'role=db');
        await policy(
          'by-account',
          'selectors',
          `  serviceAccountSelector: {matchLabels: {role: db}}\n  securityGroups: {groupIds: [${otherSg}]}`,
          { labels: 'app: any', serviceAccount: 'db-reader' },
        );
        await pod('by-account', 'selectors', 'app: any', { serviceAccount: 'db-reader' });
        const [eni] = await waitAnnotated('selectors', 'by-account');
        expect(await groupsOfEni(String(eni?.eniId))).toEqual([otherSg]);
      });

      it('needs both selectors when a policy has both', async () => {
        await policy(
          'both',
          'selectors',
          `  podSelector: {matchLabels: {tier: both}}\n  serviceAccountSelector: {matchLabels: {role: db}}\n  securityGroups: {groupIds: [${thirdSg}]}`,
          { labels: 'tier: both', serviceAccount: 'db-reader' },
        );
        await pod('both-default-sa', 'selectors', 'tier: both');
        await pod('both-db-sa', 'selectors', 'tier: both', { serviceAccount: 'db-reader' });
        const [eni] = await waitAnnotated('selectors', 'both-db-sa');
        // by-account's policy matches too (same account): the union, in policy order.
        expect((await groupsOfEni(String(eni?.eniId))).sort()).toEqual([otherSg, thirdSg].sort());
        const plain = await sandbox.kubectlOk([
          '-n',
          'selectors',
          'get',
          'pod',
          'both-default-sa',
          '-o',
          'jsonpath={.spec.containers[0].resources}',
        ]);
        expect(plain).not.toContain('pod-eni');
      });

      it('unions two policies in order, without duplicates', async () => {
        await policy(
          'two-a',
          'selectors',
          `  podSelector: {matchLabels: {app: two}}\n  securityGroups: {groupIds: [${podSg}, ${otherSg}]}`,
        );
        await policy(
          'two-b',
          'selectors',
          `  podSelector: {matchLabels: {app: two}}\n  securityGroups: {groupIds: [${otherSg}, ${thirdSg}]}`,
          { labels: 'app: two' },
        );
        await pod('two', 'selectors', 'app: two');
        const [eni] = await waitAnnotated('selectors', 'two');
        expect((await groupsOfEni(String(eni?.eniId))).sort()).toEqual(
          [podSg, otherSg, thirdSg].sort(),
        );
        expect(await eventsOf('selectors', 'two')).toContain(
          `Pod will get the following Security Groups [${podSg} ${otherSg} ${thirdSg}]`,
        );
      });

      it('matches every pod of the namespace with an empty podSelector', async () => {
        await kubectl('create', 'namespace', 'everyone');
        await policy(
          'all',
          'everyone',
          `  podSelector: {}\n  securityGroups: {groupIds: [${thirdSg}]}`,
          { labels: 'whatever: x' },
        );
        await pod('anyone', 'everyone', 'whatever: x');
        const [eni] = await waitAnnotated('everyone', 'anyone');
        expect(await groupsOfEni(String(eni?.eniId))).toEqual([thirdSg]);
      });

      it('waits with a Warning when the policy is gone before allocation, and goes on once one exists', async () => {
        await kubectl('create', 'namespace', 'late');
        await policy(
          'late',
          'late',
          `  podSelector: {matchLabels: {app: late}}\n  securityGroups: {groupIds: [${podSg}]}`,
          { labels: 'app: late' },
        );
        // Admitted with the request, but bound only once a node carries the label it selects.
        await pod('late', 'late', 'app: late', { nodeSelector: 'pool: sgp, later: "yes"' });
        await kubectl('-n', 'late', 'delete', 'sgp', 'late');
        await kubectl('label', sgpNodes[1] as string, 'later=yes');
        await waitFor(
          async () =>
            (await eventsOf('late', 'late')).includes(
              'Warning SecurityGroupRequested vpc-resource-controller: Pod requests a branch ENI but matches no SecurityGroupPolicy',
            ),
          { timeoutMs: 30_000, what: 'the no-policy Warning' },
        );
        const waiting = (await pods('late')).find((each) => each.metadata.name === 'late');
        expect(waiting && annotationOf(waiting)).toBeUndefined();
        await policy(
          'late',
          'late',
          `  podSelector: {matchLabels: {app: late}}\n  securityGroups: {groupIds: [${otherSg}]}`,
        );
        const [eni] = await waitAnnotated('late', 'late');
        expect(await groupsOfEni(String(eni?.eniId))).toEqual([otherSg]);
      });
    });

    it('fills an m5.large with 9 branch ENIs; the 10th pod is Pending for pod-eni', async () => {
      const node = (sgpNodes[0] as string).replace('node/', '');
      await policy(
        'fill',
        'capacity',
        `  podSelector: {matchLabels: {app: fill}}\n  securityGroups: {groupIds: [${podSg}]}`,
        { labels: 'app: fill' },
      );
      const onNode = await kubectl(
        'get',
        'pods',
        '-A',
        '--field-selector',
        `spec.nodeName=${node}`,
        '-o',
        'json',
      );
      // What the scheduler counts: the pod-eni requests of the pods already on the node.
      const used = (JSON.parse(onNode) as { items: PodJson[] }).items.filter((each) =>
        JSON.stringify(each.spec).includes('vpc.amazonaws.com/pod-eni'),
      ).length;
      const wanted = 9 - used + 1;
      await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: fill, namespace: capacity}
spec:
  replicas: ${String(wanted)}
  selector: {matchLabels: {app: fill}}
  template:
    metadata: {labels: {app: fill}}
    spec:
      nodeSelector: {kubernetes.io/hostname: ${node}}
      terminationGracePeriodSeconds: 1
      containers: [{name: app, image: busybox, command: [sleep, '3600']}]
`);
      await waitFor(
        async () => {
          const list = await pods('capacity');
          return (
            list.filter((each) => annotationOf(each)).length === wanted - 1 &&
            list.length === wanted
          );
        },
        { timeoutMs: 60_000, what: `${String(wanted - 1)} fill pods annotated` },
      );
      const pending = (await pods('capacity')).find((each) => !each.spec.nodeName);
      expect(pending).toBeDefined();
      await waitFor(
        async () =>
          (await eventsOf('capacity', pending?.metadata.name ?? '')).includes(
            'Insufficient vpc.amazonaws.com/pod-eni',
          ),
        { timeoutMs: 30_000, what: 'FailedScheduling for pod-eni' },
      );
      await kubectl('-n', 'capacity', 'delete', 'deployment', 'fill', '--wait=true');
    });

    it("changes a running pod's ENI groups with its policy, and falls back to the instance groups with a Warning", async () => {
      const [eni] = await waitAnnotated('sg-per-pod', 'green');
      const eniId = String(eni?.eniId);
      await policy(
        'allow-rds-access',
        'sg-per-pod',
        `  podSelector: {matchLabels: {app: green-pod}}\n  securityGroups: {groupIds: [${otherSg}]}`,
      );
      await waitFor(async () => (await groupsOfEni(eniId)).join() === otherSg, {
        timeoutMs: 15_000,
        what: 'the branch ENI to carry the new group',
      });
      expect(await eventsOf('sg-per-pod', 'green')).toContain(
        `Normal SecurityGroupsUpdated vpc-resource-controller: Security groups of the pod's branch ENI changed from [${podSg}] to [${otherSg}]`,
      );
      await kubectl('-n', 'sg-per-pod', 'label', 'pod', 'green', 'app=elsewhere', '--overwrite');
      await waitFor(async () => (await groupsOfEni(eniId)).join() === clusterSg, {
        timeoutMs: 15_000,
        what: 'the branch ENI to carry the instance groups',
      });
      expect(await eventsOf('sg-per-pod', 'green')).toContain(
        'Warning SecurityGroupsUpdated vpc-resource-controller: Pod no longer matches any SecurityGroupPolicy',
      );
      expect(
        await kubectl(
          '-n',
          'sg-per-pod',
          'get',
          'pod',
          'green',
          '-o',
          'jsonpath={.status.containerStatuses[0].restartCount}',
        ),
      ).toBe('0');
      await kubectl('-n', 'sg-per-pod', 'label', 'pod', 'green', 'app=green-pod', '--overwrite');
      await waitFor(async () => (await groupsOfEni(eniId)).join() === otherSg, {
        timeoutMs: 15_000,
        what: 'the policy groups back',
      });
    });

    it('recreates a running pod that was admitted before its policy existed', async () => {
      await kubectl('create', 'namespace', 'heal');
      await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: early, namespace: heal}
spec:
  replicas: 1
  selector: {matchLabels: {app: early}}
  template:
    metadata: {labels: {app: early}}
    spec:
      nodeSelector: {pool: sgp}
      terminationGracePeriodSeconds: 1
      containers: [{name: app, image: busybox, command: [sleep, '3600']}]
`);
      await kubectl('-n', 'heal', 'rollout', 'status', 'deployment/early', '--timeout=60s');
      const before = (await pods('heal'))[0]?.metadata.name ?? '';
      await policy(
        'early',
        'heal',
        `  podSelector: {matchLabels: {app: early}}\n  securityGroups: {groupIds: [${podSg}]}`,
      );
      await waitFor(
        async () => {
          const list = await pods('heal');
          return list.some(
            (each) => each.metadata.name !== before && annotationOf(each) !== undefined,
          );
        },
        { timeoutMs: 60_000, what: 'the replacement pod with its branch ENI' },
      );
      const warnings = await kubectl(
        '-n',
        'heal',
        'get',
        'events',
        '--field-selector',
        'reason=SecurityGroupPolicyNotApplied',
        '-o',
        'jsonpath={.items[*].message}',
      );
      expect(warnings).toContain('was admitted without the vpc.amazonaws.com/pod-eni request');
    });

    /** kill -9 of every controller process of this sandbox (they run in its pod namespaces). */
    const killControllers = async () => {
      const { stdout } = await exec('pgrep', ['-f', 'main.js controller']).catch(() => ({
        stdout: '',
      }));
      let killed = 0;
      for (const pid of stdout.split('\n').filter(Boolean)) {
        const namespace = await exec('ip', ['netns', 'identify', pid]).then(
          (result) => result.stdout.trim(),
          () => '',
        );
        if (!namespace.startsWith(home.prefix)) continue;
        process.kill(Number(pid), 'SIGKILL');
        killed += 1;
      }
      return killed;
    };

    it('comes through EC2 throttling and internal errors with one ENI per pod and nothing leaked', async () => {
      await policy(
        'recover',
        'recovery',
        `  podSelector: {matchLabels: {app: recover}}\n  securityGroups: {groupIds: [${podSg}]}`,
        { labels: 'app: recover' },
      );
      await sandbox.sgpodsOk([
        'faults',
        'add',
        '--action',
        'CreateNetworkInterface',
        '--error',
        'RequestLimitExceeded',
        '--times',
        '4',
      ]);
      await sandbox.sgpodsOk([
        'faults',
        'add',
        '--action',
        'AssociateTrunkInterface',
        '--error',
        'InternalError',
        '--times',
        '4',
      ]);
      for (const name of ['throttled-a', 'throttled-b'])
        await pod(name, 'recovery', 'app: recover');
      for (const name of ['throttled-a', 'throttled-b']) {
        const enis = await waitAnnotated('recovery', name, 60_000);
        expect(enis).toHaveLength(1);
      }
      await sandbox.sgpodsOk(['faults', 'clear']);
      await waitFor(settled, {
        timeoutMs: 90_000,
        intervalMs: 1000,
        what: 'no leaked branch ENI after faults (cooling-down ENIs of earlier tests go too)',
      });
    }, 240_000);

    it('leaks nothing when the controller is killed mid-allocation and mid-release', async () => {
      // Mid-allocation: the ENI exists, the association is slow, the controller dies.
      await sandbox.sgpodsOk([
        'faults',
        'add',
        '--action',
        'AssociateTrunkInterface',
        '--latency-ms',
        '3000',
        '--times',
        '1',
      ]);
      const before = new Set((await branchEnis()).map((eni) => eni.NetworkInterfaceId));
      await pod('killed-alloc', 'recovery', 'app: recover');
      await waitFor(
        async () => (await branchEnis()).some((eni) => !before.has(eni.NetworkInterfaceId)),
        {
          timeoutMs: 30_000,
          what: 'the new branch ENI to exist',
        },
      );
      expect(await killControllers()).toBeGreaterThan(0);
      const enis = await waitAnnotated('recovery', 'killed-alloc', 120_000);
      expect(enis).toHaveLength(1);
      // Mid-release: the pod is gone, its ENI is being deleted slowly when the controller dies.
      await sandbox.sgpodsOk([
        'faults',
        'add',
        '--action',
        'DeleteNetworkInterface',
        '--latency-ms',
        '5000',
      ]);
      const released = String(enis[0]?.eniId);
      await kubectl('-n', 'recovery', 'delete', 'pod', 'killed-alloc', '--wait=true');
      await waitFor(
        async () =>
          (await branchEnis()).find((eni) => eni.NetworkInterfaceId === released)?.Status ===
          'available',
        { timeoutMs: 60_000, what: 'the released ENI to be disassociated' },
      );
      expect(await killControllers()).toBeGreaterThan(0);
      await sandbox.sgpodsOk(['faults', 'clear']);
      await waitFor(settled, {
        timeoutMs: 150_000,
        intervalMs: 1000,
        what: 'no leaked branch ENI after kill -9',
      });
      expect((await branchEnis()).some((eni) => eni.NetworkInterfaceId === released)).toBe(false);
    }, 240_000);

    it("gives the instance groups with upstream's Warning under --fallback-to-instance-sg=true", async () => {
      await kubectl(
        '-n',
        'kube-system',
        'patch',
        'deployment',
        'vpc-resource-controller',
        '--type=json',
        '-p',
        '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--fallback-to-instance-sg=true"}]',
      );
      await kubectl(
        '-n',
        'kube-system',
        'rollout',
        'status',
        'deployment/vpc-resource-controller',
        '--timeout=120s',
      );
      await kubectl('create', 'namespace', 'fallback');
      await policy(
        'fb',
        'fallback',
        `  podSelector: {matchLabels: {app: fb}}\n  securityGroups: {groupIds: [${podSg}]}`,
        { labels: 'app: fb' },
      );
      await pod('fb', 'fallback', 'app: fb', { nodeSelector: 'pool: sgp, fallback: "yes"' });
      await kubectl('-n', 'fallback', 'delete', 'sgp', 'fb');
      await kubectl('label', sgpNodes[0] as string, 'fallback=yes');
      const [eni] = await waitAnnotated('fallback', 'fb', 90_000);
      expect(await groupsOfEni(String(eni?.eniId))).toEqual([clusterSg]);
      expect(await eventsOf('fallback', 'fb')).toContain(
        "Warning SecurityGroupRequested vpc-resource-controller: Pod will get the instance security group as the pod didn't match any Security Group from SecurityGroupPolicy",
      );
    }, 240_000);
  },
);
