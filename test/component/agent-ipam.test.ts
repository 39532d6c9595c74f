/**
 * The node agent's IPAM against the cloud's EC2 API (SDK v3): a container gets a secondary
 * address of the node's primary interface (assigned on demand, a warm one kept ahead), the same
 * container gets the same address again, DEL frees it and trims the pool back to the warm
 * target, a restarted agent keeps every allocation, and an interface at its address limit is a
 * CNI "try again later" (code 11) — all over the unix socket the CNI plugin uses.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import {
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamDaemon } from '../../src/agent/ipam-daemon.js';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';

interface Answer {
  readonly status: number;
  readonly body: { address?: string | null; code?: number; message?: string };
}

function ask(socketPath: string, path: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, path, method: 'POST' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'],
        });
      });
    });
    call.on('error', reject);
    call.end(JSON.stringify(body));
  });
}

async function launch(ec2: EC2Client, instanceType: string): Promise<string> {
  const { Subnets = [] } = await ec2.send(new DescribeSubnetsCommand({}));
  const { Instances = [] } = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0f1e2d3c4b5a69788',
      InstanceType: instanceType as never,
      MinCount: 1,
      MaxCount: 1,
      SubnetId: Subnets[0]?.SubnetId,
    }),
  );
  return Instances[0]?.NetworkInterfaces?.[0]?.NetworkInterfaceId ?? '';
}

async function secondaries(ec2: EC2Client, eniId: string): Promise<string[]> {
  const { NetworkInterfaces = [] } = await ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }),
  );
  return (NetworkInterfaces[0]?.PrivateIpAddresses ?? [])
    .filter((item) => item.Primary !== true)
    .map((item) => item.PrivateIpAddress ?? '');
}

describe('the node agent IPAM (regular pods take secondary addresses of the node ENI)', () => {
  let cloud: TestCloud;
  let ec2: EC2Client;

  beforeAll(async () => {
    cloud = await startTestCloud();
    ec2 = cloud.ec2();
  });

  afterAll(async () => {
    ec2.destroy();
    await cloud.close();
  });

  /** Background failures (warm-pool top-ups); reported, never failing a request. */
  const reported: string[] = [];
  const daemonFor = (eniId: string, name: string) =>
    new IpamDaemon({
      ec2,
      interfaceId: eniId,
      poolFile: join(cloud.home, `${name}.json`),
      socketPath: join(cloud.home, `${name}.sock`),
      warmTarget: 1,
      onError: (error) => {
        reported.push(error instanceof Error ? error.message : String(error));
      },
    });

  it('assigns, keeps a warm address, frees and trims, and survives a restart', async () => {
    const eniId = await launch(ec2, 't3.large');
    reported.length = 0;
    const daemon = daemonFor(eniId, 'ipamd');
    await daemon.start();
    const socket = join(cloud.home, 'ipamd.sock');
    // The warm target is assigned at start.
    expect(await secondaries(ec2, eniId)).toHaveLength(1);
    const first = await ask(socket, '/v1/add', { containerId: 'c1', ifname: 'eth0' });
    expect(first.status).toBe(200);
    expect(await secondaries(ec2, eniId)).toContain(first.body.address);
    // One more is kept free for the next pod.
    expect(await secondaries(ec2, eniId)).toHaveLength(2);
    expect((await ask(socket, '/v1/add', { containerId: 'c1', ifname: 'eth0' })).body.address).toBe(
      first.body.address,
    );
    const second = await ask(socket, '/v1/add', { containerId: 'c2', ifname: 'eth0' });
    expect(second.body.address).not.toBe(first.body.address);
    expect((await ask(socket, '/v1/check', { containerId: 'c2' })).body.address).toBe(
      second.body.address,
    );

    await daemon.close();
    const restarted = daemonFor(eniId, 'ipamd');
    await restarted.start();
    expect((await ask(socket, '/v1/check', { containerId: 'c1' })).body.address).toBe(
      first.body.address,
    );
    expect((await ask(socket, '/v1/del', { containerId: 'c1' })).body.address).toBe(
      first.body.address,
    );
    expect((await ask(socket, '/v1/del', { containerId: 'c1' })).body.address).toBeNull();
    // c2 holds one, one is warm; the freed one beyond the target went back to EC2.
    expect(await secondaries(ec2, eniId)).toHaveLength(2);
    expect(await secondaries(ec2, eniId)).toContain(second.body.address);
    await restarted.close();
    expect(reported).toEqual([]);
  });

  it('answers 11 (try again) when the interface holds all the addresses its type allows', async () => {
    // t3.micro: 2 addresses per interface, the primary and one secondary.
    const eniId = await launch(ec2, 't3.micro');
    const daemon = daemonFor(eniId, 'small');
    await daemon.start();
    const socket = join(cloud.home, 'small.sock');
    expect((await ask(socket, '/v1/add', { containerId: 'a', ifname: 'eth0' })).status).toBe(200);
    // The warm top-up after it could not be had; reported, not failed.
    expect(reported.at(-1)).toContain('PrivateIpAddressLimitExceeded');
    const refused = await ask(socket, '/v1/add', { containerId: 'b', ifname: 'eth0' });
    expect(refused.status).toBe(500);
    expect(refused.body.code).toBe(11);
    expect(refused.body.message).toContain('PrivateIpAddressLimitExceeded');
    expect((await ask(socket, '/v1/add', {})).status).toBe(400);
    expect((await ask(socket, '/v1/nope', { containerId: 'a' })).status).toBe(404);
    await daemon.close();
  });
});
