/**
 * The dashboard's server on a real cloud (no dataplane) and a real API server: the built page,
 * the topology (VPC, subnets, instances, groups and their references), explain answers and
 * errors as the CLI gives them, the event stream carrying flow-log records as they are appended,
 * and what it refuses.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeHttpClient } from '../../src/adapters/kube/kube-http-client.js';
import {
  DashboardNotBuiltError,
  DashboardServer,
  dashboardAssetsDirectory,
} from '../../src/cli/dashboard/dashboard-server.js';
import { TopologyReader } from '../../src/cli/dashboard/topology-reader.js';
import { FlowLogTail } from '../../src/cli/sandbox/flow-log-tail.js';
import { LiveWorld } from '../../src/cli/sandbox/live-world.js';
import type { ExplainAnswer, Topology } from '../../src/core/dashboard/dashboard-model.js';
import { cloudDatabasePath } from '../../src/servers/cloud/cloud-service.js';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';
import { waitFor } from '../support/wait-for.js';

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

function get(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const call = request(url, { method, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          type: response.headers['content-type'] ?? '',
          body,
        }),
      );
    });
    call.on('error', reject);
    call.end();
  });
}

interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads the event stream until `done` holds for what arrived, or fails after `timeoutMs`. */
function readEvents(
  url: string,
  done: (events: readonly ServerEvent[]) => boolean,
  meanwhile: () => void,
  timeoutMs = 10_000,
): Promise<ServerEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ServerEvent[] = [];
    let buffer = '';
    const call = request(url, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
        if (done(events)) {
          clearTimeout(timer);
          call.destroy();
          resolve(events);
        }
      });
      meanwhile();
    });
    const timer = setTimeout(() => {
      call.destroy();
      reject(new Error(`no matching events within ${timeoutMs} ms: ${JSON.stringify(events)}`));
    }, timeoutMs);
    call.on('error', () => undefined);
    call.end();
  });
}

describe('the dashboard server', () => {
  let cloud: TestCloud;
  let kube: KubeFixture;
  let live: LiveWorld;
  let server: DashboardServer;
  let url = '';
  let ec2: EC2Client;
  const flowDirectory = mkdtempSync(join(tmpdir(), 'sgpods-dashboard-flows-'));
  const flowLog = join(flowDirectory, 'flows.log');
  let podSg = '';
  let rdsSg = '';

  beforeAll(async () => {
    cloud = await startTestCloud();
    kube = await startKubeFixture();
    ec2 = cloud.ec2();
    const vpcId = cloud.service.network.vpcId;
    podSg =
      (
        await ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: 'POD_SG',
            Description: 'pods',
            VpcId: vpcId,
          }),
        )
      ).GroupId ?? '';
    rdsSg =
      (
        await ec2.send(
          new CreateSecurityGroupCommand({ GroupName: 'RDS_SG', Description: 'db', VpcId: vpcId }),
        )
      ).GroupId ?? '';
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: rdsSg,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            UserIdGroupPairs: [{ GroupId: podSg }],
          },
        ],
      }),
    );
    for (const group of [podSg, rdsSg]) {
      await ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-0123456789abcdef0',
          InstanceType: 'm5.large',
          MinCount: 1,
          MaxCount: 1,
          SubnetId: cloud.service.network.privateSubnetIds[0],
          SecurityGroupIds: [group],
        }),
      );
    }
    const created = await kube.call('POST', '/api/v1/namespaces/default/pods', {
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'waiting' },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      }),
      contentType: 'application/json',
    });
    expect(created.status).toBe(201);
    writeFileSync(
      flowLog,
      'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n',
    );
    live = new LiveWorld(
      cloudDatabasePath(cloud.home),
      new KubeHttpClient({
        url: kube.server.url,
        token: kube.token,
        ca: kube.ca,
        userAgent: 'dashboard-test',
      }),
    );
    server = new DashboardServer({
      live,
      topology: new TopologyReader(live),
      flows: new FlowLogTail(flowLog, { lastBytes: 64 * 1024 }),
      prefix: 'nonexistent',
      pollMs: 100,
    });
    url = await server.listen(0);
  });

  afterAll(async () => {
    await server?.close();
    live?.close();
    await kube?.close();
    await cloud?.close();
    rmSync(flowDirectory, { recursive: true, force: true });
  });

  it('serves the built page on loopback', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toContain('<div id="app"></div>');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(page.body)?.[1] ?? '';
    const bundle = await get(`${url}${script}`);
    expect(bundle.status).toBe(200);
    expect(bundle.type).toContain('javascript');
  });

  it('draws the VPC: subnets, instances with their ENIs and groups, and group references as edges', async () => {
    const answer = await get(`${url}api/topology`);
    expect(answer.status).toBe(200);
    const topology = JSON.parse(answer.body) as Topology;
    expect(topology.cluster).toBe(cloud.service.clusterName);
    expect(topology.region).toBe(cloud.service.region);
    expect(topology.vpc?.id).toBe(cloud.service.network.vpcId);
    expect(topology.subnets.map((subnet) => subnet.id)).toEqual(
      expect.arrayContaining([...cloud.service.network.privateSubnetIds]),
    );
    const instances = topology.instances.map((instance) => instance.eni?.groupIds);
    expect(instances).toEqual(expect.arrayContaining([[podSg], [rdsSg]]));
    expect(topology.groups.find((group) => group.id === rdsSg)?.ingress).toEqual([
      { traffic: 'tcp 5432', peer: `${podSg} (POD_SG)`, peerGroupId: podSg },
    ]);
    // No scheduler here: the pod stays unscheduled, and is drawn as such.
    expect(topology.pods).toContainEqual(
      expect.objectContaining({
        ref: 'pod/default/waiting',
        node: '',
        network: 'none',
        networkReason: 'not scheduled: waiting for the scheduler',
      }),
    );
    expect(topology.edges).toContainEqual({
      from: podSg,
      to: rdsSg,
      direction: 'ingress',
      traffic: 'tcp 5432',
    });
  });

  it('answers explain as the CLI does, and bad questions with the CLI’s error', async () => {
    const topology = JSON.parse((await get(`${url}api/topology`)).body) as Topology;
    const [pod, db] = [podSg, rdsSg].map(
      (group) =>
        topology.instances.find((instance) => instance.eni?.groupIds[0] === group)?.instanceId ??
        '',
    );
    const ask = async (source: string, target: string) => {
      const answer = await get(
        `${url}api/explain?${new URLSearchParams({ source, target }).toString()}`,
      );
      return { status: answer.status, ...(JSON.parse(answer.body) as ExplainAnswer) };
    };
    const allowed = await ask(pod ?? '', `${db ?? ''}:5432`);
    expect(allowed.status).toBe(200);
    expect(allowed.verdict).toBe('allowed');
    expect(allowed.text).toMatch(/^ALLOWED: tcp port 5432 from i-/);
    const denied = await ask(db ?? '', `${pod ?? ''}:22`);
    expect(denied.verdict).toBe('denied');
    expect(denied.text).toMatch(/^DENIED: tcp port 22/);
    const missing = await ask('pod/default/nope', `${db ?? ''}:5432`);
    expect(missing).toEqual({ status: 400, verdict: 'error', text: 'pod default/nope not found' });
    const noPort = await ask(pod ?? '', db ?? '');
    expect(noPort.text).toContain('give the port');
    const empty = await get(`${url}api/explain`);
    expect(empty.status).toBe(400);
  });

  it('streams the topology and every flow-log record appended after the page opened', async () => {
    const record = (port: number, action: string) =>
      `2 123456789012 eni-0123456789abcdef0 192.168.1.10 192.168.2.20 ${String(port)} 5432 6 1 60 1795798025 1795798025 ${action} OK\n`;
    appendFileSync(flowLog, record(40001, 'ACCEPT'));
    // Read before the page opens: it comes with the recent flows.
    await waitFor(async () => (await get(`${url}api/flows`)).body.includes('"sourcePort":40001'), {
      timeoutMs: 5000,
      what: 'the server to read the first record',
    });
    const events = await readEvents(
      `${url}api/events`,
      (seen) =>
        seen.some((event) => event.event === 'flow' && event.data.includes('"sourcePort":40002')),
      () => {
        // Half a line, then the rest: only complete records are sent.
        const line = record(40002, 'REJECT');
        appendFileSync(flowLog, line.slice(0, 20));
        setTimeout(() => appendFileSync(flowLog, line.slice(20)), 300);
      },
    );
    expect(events[0]?.event).toBe('topology');
    expect(events[1]?.event).toBe('flows');
    const recent = JSON.parse(events[1]?.data ?? '[]') as { record: { sourcePort: number } }[];
    expect(recent.map((message) => message.record.sourcePort)).toContain(40001);
    const flow = JSON.parse(events.find((event) => event.event === 'flow')?.data ?? '{}') as {
      sequence: number;
      record: { action: string; destinationPort: number };
    };
    expect(flow.record).toMatchObject({ action: 'REJECT', destinationPort: 5432 });
    expect(flow.sequence).toBeGreaterThan(recent.length - 1);
  });

  it('sends a topology event when the cloud changes while a page is open', async () => {
    await readEvents(
      `${url}api/events`,
      (seen) =>
        seen
          .filter((event) => event.event === 'topology')
          .some((event) => event.data.includes('LATE_SG')),
      () => {
        void ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: 'LATE_SG',
            Description: 'late',
            VpcId: cloud.service.network.vpcId,
          }),
        );
      },
    );
  });

  it('refuses other methods and other hosts, and falls back to a free port when its port is taken', async () => {
    expect((await get(`${url}api/topology`, 'POST')).status).toBe(405);
    // DNS rebinding: the request reaches 127.0.0.1 but names another host.
    const rebound = await get(`${url}api/topology`, 'GET', { host: 'attacker.example' });
    expect(rebound.status).toBe(403);
    const port = new URL(url).port;
    expect((await get(`${url}api/flows`, 'GET', { host: `localhost:${port}` })).status).toBe(200);
    const taken = Number(new URL(url).port);
    const second = new DashboardServer({
      live,
      topology: new TopologyReader(live),
      flows: new FlowLogTail(flowLog),
      prefix: 'nonexistent',
    });
    try {
      const other = await second.listen(taken);
      expect(other).not.toBe(url);
      expect((await get(other)).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('refuses to start without the built page, naming the fix', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sgpods-no-page-'));
    try {
      expect(
        () =>
          new DashboardServer({
            live,
            topology: new TopologyReader(live),
            flows: new FlowLogTail(flowLog),
            prefix: '',
            assets: `${empty}/`,
          }),
      ).toThrow(DashboardNotBuiltError);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect(dashboardAssetsDirectory()).toMatch(/dist\/dashboard\/$/);
  });
});

describe('following the flow log', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sgpods-flow-tail-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const line = (port: number) =>
    `2 123456789012 eni-0123456789abcdef0 10.0.0.1 10.0.0.2 ${String(port)} 80 6 1 60 1 1 ACCEPT OK\n`;

  it('starts at the recent records, skipping the line it lands in, and starts over when the log is replaced', () => {
    const path = join(directory, 'nested', 'flows.log');
    const tail = new FlowLogTail(path);
    expect(tail.readNew()).toEqual([]);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, line(1) + line(2) + line(3));
    const recent = new FlowLogTail(path, { lastBytes: line(3).length + 5 });
    expect(recent.readNew().map(({ record }) => record.sourcePort)).toEqual([3]);
    expect(tail.readNew().map(({ record }) => record.sourcePort)).toEqual([1, 2, 3]);
    writeFileSync(path, line(4));
    expect(tail.readNew().map(({ record }) => record.sourcePort)).toEqual([4]);
    appendFileSync(path, 'not a record\n' + line(5));
    expect(tail.readNew().map(({ record }) => record.sourcePort)).toEqual([5]);
    // Starting exactly at a line's start (here: the end) skips nothing that comes next.
    const fromNow = new FlowLogTail(path, { lastBytes: 0 });
    const atBoundary = new FlowLogTail(path, { lastBytes: line(5).length });
    appendFileSync(path, line(6));
    expect(fromNow.readNew().map(({ record }) => record.sourcePort)).toEqual([6]);
    expect(atBoundary.readNew().map(({ record }) => record.sourcePort)).toEqual([5, 6]);
  });
});
