/**
 * The README's main job, end to end: `sgpods demo` on a fresh home starts the sandbox and replays
 * the workshop with the aws CLI and kubectl — green reads the RDS table through its branch ENI
 * (POD_SG), red times out on the node's ENI — and exits 0 with the verdict table; a second run
 * reuses everything it made and comes to the same verdict.
 */
import { execFile } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { instanceNamespaceName } from '../../src/core/kernel-names.js';
import { launchHeadlessChromium } from '../support/headless-chromium.js';
import { cliPath } from '../support/run-cli.js';
import { SandboxProcess } from '../support/sandbox-process.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

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
    expect(await sandbox.sgpodsOk(['logs', 'dashboard'])).toMatch(
      /^dashboard: serving http:\/\/127\.0\.0\.1:\d+\/$/m,
    );
    const unknown = await sandbox.sgpods(['logs', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'unknown component "nosuch"; one of: cloud, kube, dashboard, controller, aws-node, coredns',
    );
  });

  it("explains red's denial and green's access live, and the probe agrees", async () => {
    const red = await sandbox.sgpods([
      'explain',
      'deploy/sg-per-pod/red-pod',
      'rds/rds-eksworkshop:5432',
      '--probe',
    ]);
    expect(red.code, `${red.stdout}\n${red.stderr}`).toBe(1);
    expect(red.stdout).toMatch(/^DENIED: tcp port 5432 from deploy\/sg-per-pod\/red-pod \(/);
    expect(red.stdout).toMatch(
      /policy allow-rds-access: not-matched — podSelector requires .*green-pod.*, but the pod has app=red-pod/,
    );
    expect(red.stdout).toMatch(
      /node ENI eni-[0-9a-f]{17}, groups .*eks-cluster-sg-eksworkshop-eksctl-/,
    );
    expect(red.stdout).toMatch(/ingress DENY .*RDS_SG/);
    expect(red.stdout).toMatch(
      /sg-[0-9a-f]{17} \(RDS_SG\) ingress sgr-[0-9a-f]{17}: tcp 5432 from sg-[0-9a-f]{17} \(POD_SG\)/,
    );
    expect(red.stdout).toMatch(/probe .*no answer within 3 s — reality agrees/);

    const green = await sandbox.sgpods([
      'explain',
      'deploy/sg-per-pod/green-pod',
      'rds/rds-eksworkshop',
      '--probe',
      '--output',
      'json',
    ]);
    expect(green.code, `${green.stdout}\n${green.stderr}`).toBe(0);
    const answer = JSON.parse(green.stdout) as {
      verdict: string;
      source: { branchEni: string | null; policies: { name: string; outcome: string }[] };
      probe: { connected: boolean; agrees: boolean };
    };
    expect(answer.verdict).toBe('allow');
    expect(answer.source.branchEni).toMatch(/^eni-[0-9a-f]{17}$/);
    // The workshop's policy matches; the demo's own loader policy does not.
    expect(answer.source.policies).toEqual([
      expect.objectContaining({ name: 'allow-rds-access', outcome: 'matched' }),
      expect.objectContaining({ name: 'rds-loader', outcome: 'not-matched' }),
    ]);
    expect(answer.probe).toMatchObject({ connected: true, agrees: true });

    // A pod in a namespace without policies, to a name the VPC resolver knows.
    const coredns = await sandbox.kubectlOk([
      '-n',
      'kube-system',
      'get',
      'pods',
      '-l',
      'k8s-app=kube-dns',
      '-o',
      'jsonpath={.items[0].metadata.name}',
    ]);
    const endpoint = await sandbox.awsJson<{ DBInstances: { Endpoint: { Address: string } }[] }>([
      'rds',
      'describe-db-instances',
    ]);
    const dns = await sandbox.sgpods([
      'explain',
      `pod/kube-system/${coredns}`,
      `${endpoint.DBInstances[0]?.Endpoint.Address ?? ''}:5432`,
    ]);
    expect(dns.code, dns.stderr).toBe(1);
    expect(dns.stdout).toContain('namespace kube-system has no SecurityGroupPolicy');
    expect(dns.stdout).toContain('resolves to 192.168.');

    const bad = await sandbox.sgpods(['explain', 'pod/sg-per-pod/nosuch', 'rds/rds-eksworkshop']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('pod sg-per-pod/nosuch not found');
  });

  it('serves the cloud metrics for Prometheus: API calls, the world, nft transactions, drops per ENI', async () => {
    const url = /AWS_ENDPOINT_URL='([^']+)'/.exec(await sandbox.sgpodsOk(['env']))?.[1] ?? '';
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    const families = parsePrometheusTextFormat(await response.text());
    const family = (name: string) => families.find((item) => item.name === name);
    const calls = family('sgpods_cloud_api_requests_total');
    expect(calls?.type).toBe('COUNTER');
    expect(
      calls?.metrics.find(
        (metric) => metric.labels?.service === 'ec2' && metric.labels.code === 'ok',
      ),
    ).toBeDefined();
    expect(Number(family('sgpods_cloud_security_groups')?.metrics[0]?.value)).toBeGreaterThan(3);
    expect(Number(family('sgpods_cloud_nft_apply_seconds')?.metrics[0]?.count)).toBeGreaterThan(0);
    const rdsEni = await sandbox.awsJson<{ NetworkInterfaces: { NetworkInterfaceId: string }[] }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      'Name=description,Values=RDSNetworkInterface',
    ]);
    const eniId = rdsEni.NetworkInterfaces[0]?.NetworkInterfaceId;
    const drops = family('sgpods_cloud_dropped_packets_total')?.metrics.find(
      (metric) =>
        metric.labels?.network_interface_id === eniId && metric.labels?.direction === 'ingress',
    );
    // Red's connection attempts to the database, dropped at its ENI's ingress.
    expect(Number(drops?.value)).toBeGreaterThan(0);
  });

  it("logs green's accepted and red's rejected flows to the database, naming the ENI that dropped red's", async () => {
    const podOf = (app: string) =>
      sandbox.kubectlOk([
        '-n',
        'sg-per-pod',
        'get',
        'pods',
        '-l',
        `app=${app}`,
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ]);
    const rds = await sandbox.awsJson<{
      NetworkInterfaces: { NetworkInterfaceId: string; PrivateIpAddress: string }[];
    }>([
      'ec2',
      'describe-network-interfaces',
      '--filters',
      'Name=description,Values=RDSNetworkInterface',
    ]);
    const eni = rds.NetworkInterfaces[0];
    const recordsOf = async (pod: string) =>
      (await sandbox.sgpodsOk(['flows', '--pod', `sg-per-pod/${pod}`]))
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((line) => line.split(' '));
    const toDatabase = (fields: string[]) =>
      fields[4] === eni?.PrivateIpAddress && fields[6] === '5432';
    const green = await podOf('green-pod');
    const red = await podOf('red-pod');
    // The app connects every 5 s; a record is written at the end of its 1 s window.
    await waitFor(
      async () =>
        (await recordsOf(green)).some((fields) => toDatabase(fields) && fields[12] === 'ACCEPT'),
      { timeoutMs: 10_000, what: "green's accepted flow to the database" },
    );
    await waitFor(
      async () =>
        (await recordsOf(red)).some(
          (fields) =>
            toDatabase(fields) && fields[12] === 'REJECT' && fields[2] === eni?.NetworkInterfaceId,
        ),
      { timeoutMs: 10_000, what: "red's rejected flow at the database's ENI" },
    );
    const header = (
      await sandbox.sgpodsOk(['flows', '--eni', eni?.NetworkInterfaceId ?? ''])
    ).split('\n')[0];
    expect(header).toBe(
      'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
    );
  });

  it("draws green's accepted and red's rejected flows to RDS in the dashboard, and explains red there as the CLI does", async () => {
    const status = await sandbox.sgpods(['status']);
    const url = /^dashboard\s+running, (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(status.stdout)?.[1];
    expect(url, status.stdout).toBeDefined();
    const cli = await sandbox.sgpods([
      'explain',
      'deploy/sg-per-pod/red-pod',
      'rds/rds-eksworkshop:5432',
    ]);
    expect(cli.code).toBe(1);
    const browser = await launchHeadlessChromium();
    try {
      const { page } = browser;
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(url ?? '');
      // The map: the database in its subnet, green on its branch ENI carrying POD_SG, red on its node's ENI.
      await page.locator('[data-ref="rds/rds-eksworkshop"]').waitFor({ timeout: 15_000 });
      const green = page.locator('button.pod.branch[data-ref^="pod/sg-per-pod/green-pod-"]');
      expect(await green.locator('.chip').allTextContents()).toEqual(['POD_SG']);
      const red = page.locator('button.pod.node[data-ref^="pod/sg-per-pod/red-pod-"]');
      expect(await red.count()).toBe(1);
      // Live flows: the app connects every 5 s; rows in the table and arrows on the map.
      const row = (app: string, action: string) =>
        `tr.flow[data-action="${action}"][data-source^="pod/sg-per-pod/${app}-"][data-destination="rds/rds-eksworkshop"]`;
      const arrow = (app: string, action: string) =>
        `.flow-line[data-action="${action}"][data-source^="pod/sg-per-pod/${app}-"][data-destination="rds/rds-eksworkshop"]`;
      for (const selector of [
        row('green-pod', 'ACCEPT'),
        row('red-pod', 'REJECT'),
        arrow('green-pod', 'ACCEPT'),
        arrow('red-pod', 'REJECT'),
      ]) {
        await page.locator(selector).first().waitFor({ state: 'attached', timeout: 15_000 });
      }
      expect(await page.locator(row('green-pod', 'REJECT')).count()).toBe(0);
      expect(await page.locator(row('red-pod', 'ACCEPT')).count()).toBe(0);
      // The explain box answers for red exactly as the CLI does.
      await page
        .getByRole('combobox', { name: 'source', exact: true })
        .fill('deploy/sg-per-pod/red-pod');
      await page
        .getByRole('combobox', { name: 'target[:port][/protocol]', exact: true })
        .fill('rds/rds-eksworkshop:5432');
      await page.getByRole('button', { name: 'Explain', exact: true }).click();
      const answer = page.getByTestId('explain-answer');
      await answer.locator('[data-verdict="denied"]').waitFor({ timeout: 15_000 });
      expect(await answer.locator('pre').textContent()).toBe(cli.stdout);
      // Keyboard: Enter on a focused pod opens its groups, policy reasons and recent flows.
      await green.focus();
      await page.keyboard.press('Enter');
      const details = page.getByTestId('pod-details');
      await details.waitFor();
      expect(await details.textContent()).toMatch(/POD_SG sg-[0-9a-f]{17}/);
      expect(await details.locator('li.policy.matched').textContent()).toContain('matched');
      await details
        .locator('li.flow[data-action="ACCEPT"][data-destination="rds/rds-eksworkshop"]')
        .first()
        .waitFor({ state: 'attached', timeout: 15_000 });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("serves aws-node's and the controller's metrics inside the VPC", async () => {
    /** GET `url` from the namespace of the node `selector` picks. */
    const scrape = async (selector: string, url: string) => {
      const providerId = await sandbox.kubectlOk([
        'get',
        'nodes',
        ...selector.split(' '),
        '-o',
        'jsonpath={.items[0].spec.providerID}',
      ]);
      const namespace = instanceNamespaceName(home.prefix, providerId.split('/').pop() ?? '');
      const { stdout } = await runCommand(['ip', 'netns', 'exec', namespace, 'curl', '-sf', url]);
      return parsePrometheusTextFormat(stdout);
    };
    const agent = await scrape(
      '-l node.kubernetes.io/instance-type=m5.large',
      'http://127.0.0.1:61678/metrics',
    );
    expect(
      Number(agent.find((family) => family.name === 'awscni_add_ip_req_count')?.metrics[0]?.value),
    ).toBeGreaterThan(0);
    const outcomes = agent.find((family) => family.name === 'sgpods_agent_cni_add_total');
    expect(
      Number(outcomes?.metrics.find((metric) => metric.labels?.outcome === 'branch')?.value),
    ).toBeGreaterThan(0);
    const [podIp = '', node = ''] = (
      await sandbox.kubectlOk([
        '-n',
        'kube-system',
        'get',
        'pods',
        '-l',
        'app=vpc-resource-controller',
        '-o',
        'jsonpath={.items[0].status.podIP} {.items[0].spec.nodeName}',
      ])
    ).split(' ');
    const controller = await scrape(
      `--field-selector metadata.name=${node}`,
      `http://${podIp}:8443/metrics`,
    );
    expect(controller.map((family) => family.name)).toContain(
      'controller_runtime_webhook_requests_total',
    );
  });
});
