/**
 * The security-groups-for-pods controller as `sgpods up` deploys it (deploy/controller), driven
 * with the real kubectl (rc.md §1, §3): the CRDs and webhook configurations exist and carry the
 * controller's CA; a pod matching a SecurityGroupPolicy gets the pod-eni request and one that
 * does not, a hostNetwork pod and a Windows one do not (each a test); a Fargate pod gets its groups as an
 * annotation; users cannot set the pod-eni annotation; a CNINode per node; fail-closed admission
 * with the controller scaled to zero; a killed leader is replaced within the lease duration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const policy = (namespace: string) => `apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata: {name: green-policy, namespace: ${namespace}}
spec:
  podSelector: {matchLabels: {app: green}}
  securityGroups: {groupIds: [sg-0a1b2c3d4e5f60718]}
`;

describe.skipIf(!isRoot)('the controller: CRDs, webhooks, fail-closed admission', () => {
  let home: TestHome;
  let sandbox: SandboxProcess;

  beforeAll(async () => {
    home = createTestHome();
    sandbox = new SandboxProcess(home.home);
    await sandbox.sgpodsOk(['up']);
    await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'rollout',
      'status',
      'deployment/vpc-resource-controller',
      '--timeout=120s',
    ]);
    await sandbox.kubectlOk(['create', 'namespace', 'sgp']);
    await sandbox.kubectlOk(['create', 'namespace', 'plain']);
    await sandbox.kubectlOk(['apply', '-f', '-'], policy('sgp'));
    await waitFor(
      async () =>
        (await sandbox.kubectlOk(['get', 'namespace', 'sgp', '--show-labels'])).includes(
          'sgpods.io/security-group-policies=present',
        ),
      { timeoutMs: 30_000, what: 'the policy namespace to be labelled' },
    );
  });

  afterAll(async () => {
    await sandbox?.sgpods(['down', '--purge']);
    await home?.cleanup();
  });

  const resourcesOf = (namespace: string, pod: string) =>
    sandbox.kubectlOk([
      '-n',
      namespace,
      'get',
      'pod',
      pod,
      '-o',
      'jsonpath={.spec.containers[0].resources}',
    ]);

  it('runs from deploy/: the CRDs, the webhook configurations with its CA, a CNINode per node', async () => {
    expect(
      await sandbox.kubectlOk([
        'get',
        'crd',
        'securitygrouppolicies.vpcresources.k8s.aws',
        '-o',
        'name',
      ]),
    ).toBe(
      'customresourcedefinition.apiextensions.k8s.io/securitygrouppolicies.vpcresources.k8s.aws',
    );
    const bundle = await sandbox.kubectlOk([
      'get',
      'mutatingwebhookconfiguration',
      'vpc-resource-mutating-webhook',
      '-o',
      'jsonpath={.webhooks[*].clientConfig.caBundle}',
    ]);
    expect(Buffer.from(bundle.split(' ')[0] ?? '', 'base64').toString()).toContain(
      'BEGIN CERTIFICATE',
    );
    expect(
      await sandbox.kubectlOk([
        'get',
        'validatingwebhookconfiguration',
        'vpc-resource-validating-webhook',
        '-o',
        'jsonpath={.webhooks[*].name}',
      ]),
    ).toBe('vpod.vpc.k8s.aws vnode.vpc.k8s.aws');
    expect(await sandbox.kubectlOk(['get', 'sgp', '-n', 'sgp'])).toMatch(
      /green-policy\s+\["sg-0a1b2c3d4e5f60718"\]/,
    );
    const nodes = (
      await sandbox.kubectlOk(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])
    ).split(' ');
    await waitFor(
      async () =>
        (await sandbox.kubectlOk(['get', 'cninodes', '-o', 'jsonpath={.items[*].metadata.name}']))
          .split(' ')
          .sort()
          .join(' ') === [...nodes].sort().join(' '),
      { timeoutMs: 30_000, what: 'a CNINode per node' },
    );
    const cniNode = JSON.parse(
      await sandbox.kubectlOk(['get', 'cninode', nodes[0] ?? '', '-o', 'json']),
    ) as {
      metadata: {
        finalizers: string[];
        labels: Record<string, string>;
        ownerReferences: { kind: string; name: string }[];
      };
      spec: { tags: Record<string, string> };
    };
    expect(cniNode.metadata.finalizers).toEqual(['networking.k8s.aws/resource-cleanup']);
    expect(cniNode.metadata.labels['kubernetes.io/os']).toBe('linux');
    expect(cniNode.metadata.ownerReferences[0]).toMatchObject({ kind: 'Node', name: nodes[0] });
    expect(cniNode.spec.tags).toMatchObject({
      'cluster.k8s.amazonaws.com/name': 'eksworkshop-eksctl',
      'node.k8s.amazonaws.com/instance_id': expect.stringMatching(/^i-[0-9a-f]{17}$/),
    });
    // Deleted while its node exists: made again.
    const uid = () =>
      sandbox.kubectl(['get', 'cninode', nodes[0] ?? '', '-o', 'jsonpath={.metadata.uid}']);
    const before = (await uid()).stdout;
    await sandbox.kubectlOk(['delete', 'cninode', nodes[0] ?? '', '--wait=false']);
    await waitFor(
      async () =>
        (
          await sandbox.kubectl([
            'get',
            'cninode',
            nodes[0] ?? '',
            '-o',
            'jsonpath={.metadata.deletionTimestamp}',
          ])
        ).stdout === '' && (await sandbox.kubectl(['get', 'cninode', nodes[0] ?? ''])).code === 0,
      { timeoutMs: 30_000, what: 'the CNINode to be made again' },
    );
    expect((await uid()).stdout).not.toBe(before);
  });

  /** `kubectl run <name>` in the policy namespace with extra flags. */
  const run = (name: string, ...flags: string[]) =>
    sandbox.kubectlOk([
      '-n',
      'sgp',
      'run',
      name,
      '--image=busybox',
      ...flags,
      '--',
      'sleep',
      '3600',
    ]);

  it('requests pod-eni in the first container of a pod that matches a policy', async () => {
    await run('green', '--labels=app=green');
    expect(JSON.parse(await resourcesOf('sgp', 'green'))).toEqual({
      limits: { 'vpc.amazonaws.com/pod-eni': '1' },
      requests: { 'vpc.amazonaws.com/pod-eni': '1' },
    });
    // No capacity on t3 nodes: the pod waits, worded as the scheduler words it.
    await waitFor(
      async () =>
        (
          await sandbox.kubectlOk([
            '-n',
            'sgp',
            'get',
            'events',
            '--field-selector',
            'involvedObject.name=green',
          ])
        ).includes('Insufficient vpc.amazonaws.com/pod-eni'),
      { timeoutMs: 30_000, what: 'green to be unschedulable for pod-eni' },
    );
  });

  it('leaves a pod that matches no policy unchanged', async () => {
    await run('red', '--labels=app=red');
    expect(await resourcesOf('sgp', 'red')).toBe('{}');
  });

  it('leaves a hostNetwork pod unchanged even when it matches', async () => {
    await run('green-host', '--labels=app=green', '--overrides={"spec":{"hostNetwork":true}}');
    expect(await resourcesOf('sgp', 'green-host')).toBe('{}');
  });

  it('leaves a pod with a Windows nodeSelector unchanged even when it matches', async () => {
    await run(
      'green-windows',
      '--labels=app=green',
      '--overrides={"spec":{"nodeSelector":{"kubernetes.io/os":"windows"}}}',
    );
    expect(await resourcesOf('sgp', 'green-windows')).toBe('{}');
  });

  it('gives a Fargate pod its groups as an annotation instead of pod-eni', async () => {
    await run('green-fargate', '--labels=app=green,eks.amazonaws.com/fargate-profile=fp');
    expect(await resourcesOf('sgp', 'green-fargate')).toBe('{}');
    expect(
      await sandbox.kubectlOk([
        '-n',
        'sgp',
        'get',
        'pod',
        'green-fargate',
        '-o',
        'jsonpath={.metadata.annotations.fargate\\.amazonaws\\.com/pod-sg}',
      ]),
    ).toBe('sg-0a1b2c3d4e5f60718');
  });

  it('keeps the pod-eni annotation for the controller alone', async () => {
    const annotate = await sandbox.kubectl([
      '-n',
      'sgp',
      'annotate',
      'pod',
      'red',
      'vpc.amazonaws.com/pod-eni=[]',
    ]);
    expect(annotate.code).toBe(1);
    expect(annotate.stderr).toContain(
      'admission webhook "vpod.vpc.k8s.aws" denied the request: annotation is not set by vpc-resource-controller',
    );
    const created = await sandbox.kubectl([
      '-n',
      'plain',
      'run',
      'sneaky',
      '--image=busybox',
      '--annotations=vpc.amazonaws.com/pod-eni=[]',
      '--',
      'sleep',
      '3600',
    ]);
    expect(created.code).toBe(1);
    expect(created.stderr).toContain(
      'pod cannot be created with vpc.amazonaws.com/pod-eni annotation',
    );
  });

  it('fails closed where policies are, and only there, while the controller is down', async () => {
    await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'scale',
      'deployment/vpc-resource-controller',
      '--replicas=0',
    ]);
    await waitFor(
      async () =>
        (await sandbox.kubectlOk([
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'app=vpc-resource-controller',
          '-o',
          'name',
        ])) === '',
      { timeoutMs: 60_000, what: 'the controller to be gone' },
    );
    const refused = await sandbox.kubectl([
      '-n',
      'sgp',
      'run',
      'late-green',
      '--image=busybox',
      '--labels=app=green',
      '--',
      'sleep',
      '3600',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('failed calling webhook "mpod-fail-closed.vpc.k8s.aws"');
    expect(
      (
        await sandbox.kubectl([
          '-n',
          'plain',
          'run',
          'unaffected',
          '--image=busybox',
          '--',
          'sleep',
          '3600',
        ])
      ).code,
    ).toBe(0);
    await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'scale',
      'deployment/vpc-resource-controller',
      '--replicas=2',
    ]);
    await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'rollout',
      'status',
      'deployment/vpc-resource-controller',
      '--timeout=120s',
    ]);
    await waitFor(
      async () =>
        (
          await sandbox.kubectl([
            '-n',
            'sgp',
            'run',
            'late-green',
            '--image=busybox',
            '--labels=app=green',
            '--',
            'sleep',
            '3600',
          ])
        ).code === 0,
      { timeoutMs: 60_000, what: 'admission to work again' },
    );
    expect(JSON.parse(await resourcesOf('sgp', 'late-green'))).toMatchObject({
      limits: { 'vpc.amazonaws.com/pod-eni': '1' },
    });
  });

  it('hands leadership to the other replica when the leader is killed', async () => {
    const holder = () =>
      sandbox.kubectlOk([
        '-n',
        'kube-system',
        'get',
        'lease',
        'cp-vpc-resource-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
    const running = async () =>
      (
        await sandbox.kubectlOk([
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'app=vpc-resource-controller',
          '--field-selector=status.phase=Running',
          '-o',
          'jsonpath={.items[*].metadata.name}',
        ])
      ).split(' ');
    // After the scale to zero and back, the lease names a gone pod until it expires.
    await waitFor(async () => (await running()).includes((await holder()).split('_')[0] ?? ''), {
      timeoutMs: 90_000,
      what: 'a leader among the running replicas',
    });
    const leader = (await holder()).split('_')[0] ?? '';
    await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'delete',
      'pod',
      leader,
      '--grace-period=0',
      '--force',
    ]);
    const started = Date.now();
    await waitFor(
      async () => {
        const now = await holder();
        return now !== '' && !now.startsWith(`${leader}_`);
      },
      { timeoutMs: 90_000, what: 'another replica to lead' },
    );
    // Within the lease duration (30 s) and a retry period (5 s), with scheduling slack.
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
