/**
 * The workshop's pages, as written, typed into `sgpods shell` on a fresh sandbox (the script and
 * what it changes are in workshop/sg-per-pod.sh): node group, security groups, RDS and its
 * table from the workstation, the CNI configuration, the policy, the secret, green's rows and
 * branch ENI annotation, red's timeout without one, and the cleanup ending in DBInstanceNotFound.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

const script = readFileSync(new URL('workshop/sg-per-pod.sh', import.meta.url), 'utf8');

/** The output of each `=== <page>` section. */
function pagesOf(output: string): Map<string, string> {
  const pages = new Map<string, string>();
  for (const section of output.split(/^=== /m).slice(1)) {
    const newline = section.indexOf('\n');
    pages.set(section.slice(0, newline), section.slice(newline + 1));
  }
  return pages;
}

describe.skipIf(!isRoot)('the workshop verbatim in sgpods shell', () => {
  let home: TestHome;
  let sandbox: SandboxProcess;
  let user: string;

  beforeAll(async () => {
    home = createTestHome();
    sandbox = new SandboxProcess(home.home);
    user = join(home.home, 'user');
    mkdirSync(join(user, 'environment'), { recursive: true });
    await sandbox.sgpodsOk(['up']);
  }, 120_000);

  afterAll(async () => {
    await sandbox?.sgpods(['down', '--purge']);
    await home?.cleanup();
  });

  it('gives a workstation in the VPC with the clients set up and the metadata service', async () => {
    const { code, stdout, stderr } = await sandbox.shellScript(
      [
        'for tool in aws kubectl psql jq curl sgpods; do command -v $tool >/dev/null || echo "missing $tool"; done',
        'echo "region=$AWS_REGION"',
        'curl -s http://169.254.169.254/latest/meta-data/instance-id; echo',
        'kubectl get nodes -o name | wc -l',
        'aws ec2 describe-instances --instance-ids "$SGPODS_WORKSTATION" --query "Reservations[0].Instances[0].SecurityGroups[0].GroupName" --output text',
        'read -r line; echo "stdin: $line"',
        'the line read from stdin',
        'exit 7',
      ].join('\n'),
      { cwd: user, env: { HOME: user }, timeoutMs: 120_000 },
    );
    expect(stderr).toBe('');
    expect(code).toBe(7);
    const [region, instance, nodes, group, stdin] = stdout.trim().split('\n');
    expect(region).toMatch(/^region=[a-z]+-[a-z]+-\d$/);
    expect(instance).toMatch(/^i-[0-9a-f]{17}$/);
    expect(nodes).toBe('2');
    expect(group).toBe('sgpods-workstation');
    expect(stdin).toBe('stdin: the line read from stdin');

    // Without a command: an interactive bash with the workstation's prompt, reading stdin.
    const interactive = await sandbox.shellScript('kubectl get nodes -o name | wc -l\nexit 3\n', {
      cwd: user,
      env: { HOME: user },
      timeoutMs: 60_000,
      interactive: true,
    });
    expect(interactive.code).toBe(3);
    expect(interactive.stdout.trim()).toBe('2');
    expect(interactive.stderr).toMatch(/^sgpods: workstation i-[0-9a-f]{17} \(192\.168\.[\d.]+\)/);
    expect(interactive.stderr).toMatch(/\[workstation 192\.168\.[\d.]+\] \S*[#$] /);
  }, 150_000);

  it('runs every page of the chapter as written, ending with DBInstanceNotFound', async () => {
    const { code, stdout, stderr } = await sandbox.shellScript(script, {
      cwd: join(user, 'environment'),
      env: { HOME: user, WORKSHOP_FILES: join(repoRoot, 'examples', 'workshop') },
      timeoutMs: 600_000,
    });
    const transcript = `${stdout}\n--- stderr\n${stderr}`;
    expect(code, transcript).toBe(0);
    expect(transcript).not.toContain('command not found');
    const pages = pagesOf(stdout);
    expect([...pages.keys()]).toEqual([
      '09_prerequisite',
      '10_secgroup',
      '20_rds',
      '30_cni_config',
      '40_sg_policy',
      '50_deploy',
      '90_cleanup',
      'after',
    ]);
    const page = (name: string) => pages.get(name) ?? '';
    for (const name of ['10_secgroup', '20_rds', '30_cni_config', '40_sg_policy', '50_deploy']) {
      expect(page(name), transcript).not.toContain('An error occurred');
    }
    expect(page('09_prerequisite')).toMatch(/^ip-\S+\.compute\.internal\s+Ready\s/m);
    expect(page('10_secgroup')).toMatch(/^RDS security group ID: sg-[0-9a-f]{17}$/m);
    expect(page('10_secgroup')).toMatch(/^POD security group ID: sg-[0-9a-f]{17}$/m);
    expect(page('10_secgroup')).toMatch(/^Node Group security group ID: sg-[0-9a-f]{17}$/m);
    expect(page('20_rds')).toMatch(/^available$/m);
    expect(page('20_rds')).toMatch(/^RDS endpoint: rds-eksworkshop\.\S+\.rds\.amazonaws\.com$/m);
    expect(page('20_rds')).toContain('CREATE TABLE\nINSERT 0 1\nINSERT 0 1\nINSERT 0 1\n');
    expect(page('30_cni_config')).toContain('daemonset.apps/aws-node env updated');
    expect(page('30_cni_config')).toContain('daemon set "aws-node" successfully rolled out');
    expect(page('30_cni_config')).toMatch(
      /^ip-\S+\s+Ready\s.*vpc\.amazonaws\.com\/has-trunk-attached=true/m,
    );
    expect(page('40_sg_policy')).toContain('securitygrouppolicies.vpcresources.k8s.aws');
    expect(page('40_sg_policy')).toContain('namespace/sg-per-pod created');
    expect(page('40_sg_policy')).toMatch(/Group Ids:\s+sg-[0-9a-f]{17}/);
    const deploy = page('50_deploy');
    expect(deploy).toContain('secret/rds created');
    expect(deploy).toMatch(/^password:\s+32 bytes$/m);
    expect(deploy).toContain(
      "[('--------------------------',), ('Welcome to the eksworkshop',), ('--------------------------',)]",
    );
    const [green = '', red = ''] = deploy.split('deployment.apps/red-pod created');
    expect(green).toMatch(/vpc\.amazonaws\.com\/pod-eni:\s+\[\{"eniId":"eni-[0-9a-f]{17}"/);
    expect(red).toContain('Database connection failed due to timeout expired');
    expect(red).toMatch(/^Name:\s+red-pod-/m);
    expect(red).not.toContain('pod-eni');
    const cleanup = page('90_cleanup');
    expect(cleanup).toContain('deployment.apps "green-pod" deleted');
    expect(cleanup).toContain('namespace "sg-per-pod" deleted');
    expect(cleanup).toContain(
      'An error occurred (DBInstanceNotFound) when calling the DescribeDBInstances operation: DBInstance rds-eksworkshop not found.',
    );
    expect(page('after')).not.toMatch(/POD_SG|RDS_SG/);
  }, 620_000);
});
