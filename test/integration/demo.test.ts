/**
 * The README's main job, end to end: `sgpods demo` on a fresh home starts the sandbox and replays
 * the workshop with the aws CLI and kubectl — green reads the RDS table through its branch ENI
 * (POD_SG), red times out on the node's ENI — and exits 0 with the verdict table; a second run
 * reuses everything it made and comes to the same verdict.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../support/run-cli.js';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

describe.skipIf(!isRoot)('sgpods demo: the workshop replayed on a fresh sandbox', () => {
  let home: TestHome;
  let sandbox: SandboxProcess;

  beforeAll(() => {
    home = createTestHome();
    sandbox = new SandboxProcess(home.home);
  });

  afterAll(async () => {
    await sandbox?.sgpods(['down', '--purge']);
    await home?.cleanup();
  });

  it('starts the sandbox, narrates the workshop and ends with the verdict (exit 0)', async () => {
    const { code, stdout, stderr } = await sandbox.sgpods(['demo'], 400_000);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    // The real clients' commands, as the workshop types them.
    expect(stdout).toContain('$ aws ec2 create-security-group --description');
    expect(stdout).toContain(
      '$ aws rds create-db-instance --db-instance-identifier rds-eksworkshop',
    );
    expect(stdout).toContain(
      '$ kubectl -n kube-system set env daemonset aws-node ENABLE_POD_ENI=true',
    );
    expect(stdout).toMatch(
      /green-pod-\S+ logs:\n(\s+.*\n)*\s+\[\('-+',\), \('Welcome to the eksworkshop',\)/,
    );
    expect(stdout).toContain('Database connection failed due to timeout expired');
    expect(stdout).toMatch(
      /^green-pod-\S+\s+\S+\s+eni-[0-9a-f]{17} \(branch ENI\)\s+POD_SG\s+read the welcome table$/m,
    );
    expect(stdout).toMatch(
      /^red-pod-\S+\s+\S+\s+eni-[0-9a-f]{17} \(node ENI\)\s+eks-cluster-sg-\S+\s+connection timed out$/m,
    );
  }, 420_000);

  it('reuses what it made on a second run and comes to the same verdict', async () => {
    const { code, stdout, stderr } = await sandbox.sgpods(['demo'], 300_000);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).not.toContain('create-security-group');
    expect(stdout).not.toContain('create-db-instance');
    expect(stdout).toContain('demo: green reads RDS through its branch ENI');
  }, 320_000);

  it("prints the exports for kubectl and aws, and the components' logs", async () => {
    const env = await sandbox.sgpodsOk(['env']);
    expect(env).toContain(`export KUBECONFIG='${home.home}/kubeconfig'`);
    expect(env).toMatch(/^export AWS_ENDPOINT_URL='http:\/\/127\.0\.0\.1:\d+'$/m);
    const shell = await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        [
          '-c',
          `eval "$(${process.execPath} ${cliPath} --home ${home.home} env)"; kubectl get ns sg-per-pod -o name; aws rds describe-db-instances --query 'DBInstances[0].DBInstanceIdentifier' --output text`,
        ],
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)),
      );
    });
    expect(shell.split('\n')).toEqual(['namespace/sg-per-pod', 'rds-eksworkshop', '']);
    expect(await sandbox.sgpodsOk(['logs', 'controller'])).toContain('became leader');
    expect(await sandbox.sgpodsOk(['logs', 'aws-node'])).toContain(
      'labelled vpc.amazonaws.com/has-trunk-attached=true',
    );
    expect(await sandbox.sgpodsOk(['logs', 'cloud'])).not.toBe('');
    const unknown = await sandbox.sgpods(['logs', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'unknown component "nosuch"; one of: cloud, kube, controller, aws-node, coredns',
    );
  });
});
