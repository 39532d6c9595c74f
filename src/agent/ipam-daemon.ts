/**
 * The agent's IPAM, served to the CNI plugin over a unix socket (as ipamd serves the VPC CNI's
 * plugin): `POST /v1/add` answers a branch pod with its branch ENI (from the planner) and gives
 * any other container a secondary private address of the node's primary interface
 * (AssignPrivateIpAddresses when none is free), `POST /v1/del`
 * takes it back (UnassignPrivateIpAddresses beyond the warm target). One request at a time, so
 * the pool and EC2 never disagree halfway.
 */
import {
  AssignPrivateIpAddressesCommand,
  DescribeNetworkInterfacesCommand,
  UnassignPrivateIpAddressesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readLimitedBody } from '../adapters/http/read-body.js';
import type { PodNetworkPlan } from '../core/cni/pod-network-plan.js';
import { AddressPool, type Allocation } from './address-pool.js';
import type { PodRef } from './pod-networks.js';

export interface IpamDaemonOptions {
  readonly ec2: EC2Client;
  readonly interfaceId: string;
  readonly poolFile: string;
  readonly socketPath: string;
  /** Free addresses kept assigned ahead of pods (WARM_IP_TARGET). */
  readonly warmTarget: number;
  readonly onError: (error: unknown) => void;
  /** Decides branch, regular or refused per pod; without it every pod is regular. */
  readonly planner?: { plan(ref: PodRef): Promise<PodNetworkPlan> };
  readonly enforcingMode?: 'strict' | 'standard';
  /** Told how each ADD ended and of each DEL (the agent's metrics). */
  readonly onAdd?: (outcome: 'regular' | 'branch' | 'wait' | 'refuse' | 'error') => void;
  readonly onDel?: () => void;
}

interface AddRequest extends Allocation {
  readonly podUid?: string;
}

/** A failure the plugin reports with a CNI error code (11: try again later). */
class IpamFailure extends Error {
  constructor(
    readonly cniCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class IpamDaemon {
  readonly #pool: AddressPool;
  #queue: Promise<unknown> = Promise.resolve();
  #server: Server | undefined;

  constructor(private readonly options: IpamDaemonOptions) {
    this.#pool = new AddressPool(options.interfaceId, options.poolFile);
  }

  /** Reads what the interface holds, tops the pool up, then serves. */
  async start(): Promise<void> {
    await this.#serial(async () => {
      await this.#refresh();
      await this.#topUp();
    });
    rmSync(this.options.socketPath, { force: true });
    const server = createServer((request, response) => {
      void this.#handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #refresh(): Promise<void> {
    const { NetworkInterfaces = [] } = await this.options.ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [this.options.interfaceId] }),
    );
    const addresses = (NetworkInterfaces[0]?.PrivateIpAddresses ?? [])
      .filter((item) => item.Primary !== true)
      .map((item) => item.PrivateIpAddress ?? '')
      .filter(Boolean);
    this.#pool.setAssigned(addresses);
  }

  async #assign(count: number): Promise<void> {
    try {
      await this.options.ec2.send(
        new AssignPrivateIpAddressesCommand({
          NetworkInterfaceId: this.options.interfaceId,
          SecondaryPrivateIpAddressCount: count,
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      throw new IpamFailure(
        11,
        `AssignPrivateIpAddresses on ${this.options.interfaceId} failed: ${name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    await this.#refresh();
  }

  async #topUp(): Promise<void> {
    const missing = this.options.warmTarget - this.#pool.free().length;
    if (missing > 0) await this.#assign(missing).catch(this.options.onError);
  }

  async #trim(): Promise<void> {
    const extra = this.#pool.free().slice(this.options.warmTarget);
    if (extra.length === 0) return;
    await this.options.ec2.send(
      new UnassignPrivateIpAddressesCommand({
        NetworkInterfaceId: this.options.interfaceId,
        PrivateIpAddresses: extra,
      }),
    );
    await this.#refresh();
  }

  add(allocation: Allocation): Promise<string> {
    return this.#serial(async () => {
      let address = this.#pool.allocate(allocation);
      if (address === undefined) {
        await this.#assign(1);
        address = this.#pool.allocate(allocation);
      }
      if (address === undefined)
        throw new IpamFailure(11, `no free address on ${this.options.interfaceId}`);
      await this.#topUp();
      return address;
    });
  }

  del(containerId: string): Promise<string | undefined> {
    return this.#serial(async () => {
      const address = this.#pool.release(containerId);
      await this.#trim().catch(this.options.onError);
      return address;
    });
  }

  /** The regular pods this node's address pool serves. */
  regularPods(): (Allocation & { readonly address: string })[] {
    return this.#pool.entries();
  }

  addressOf(containerId: string): string | undefined {
    return this.#pool.addressOf(containerId);
  }

  /** ADD: asks how the pod is networked first (without holding the queue while it waits). */
  async #add(body: AddRequest): Promise<Record<string, unknown>> {
    const plan = this.options.planner
      ? await this.options.planner.plan({
          podNamespace: body.podNamespace ?? '',
          podName: body.podName ?? '',
          ...(body.podUid ? { podUid: body.podUid } : {}),
        })
      : ({ kind: 'regular' } as const);
    switch (plan.kind) {
      case 'branch':
        // The mode is the agent's (its env), not the configuration file a restart may be rewriting.
        return { branch: plan.wiring, mode: this.options.enforcingMode ?? 'strict' };
      case 'wait':
        throw new IpamFailure(11, plan.reason);
      case 'refuse':
        throw new IpamFailure(999, plan.reason);
      case 'regular':
        return { address: await this.add(body) };
    }
  }

  async #countedAdd(body: AddRequest): Promise<Record<string, unknown>> {
    try {
      const answer = await this.#add(body);
      this.options.onAdd?.('branch' in answer ? 'branch' : 'regular');
      return answer;
    } catch (error) {
      const code = error instanceof IpamFailure ? error.cniCode : undefined;
      this.options.onAdd?.(code === 11 ? 'wait' : code === 999 ? 'refuse' : 'error');
      throw error;
    }
  }

  /** Addresses held for pods, and all the pool holds. */
  poolSize(): { assigned: number; total: number } {
    return {
      assigned: this.#pool.allocated,
      total: this.#pool.entries().length + this.#pool.free().length,
    };
  }

  /** The body a route answers with; false for a route not served. */
  async #serve(route: string, body: AddRequest): Promise<Record<string, unknown> | false> {
    switch (route) {
      case 'POST /v1/add':
        return this.#countedAdd(body);
      case 'POST /v1/del':
        this.options.onDel?.();
        return { address: (await this.del(body.containerId)) ?? null };
      case 'POST /v1/check':
        return { address: this.addressOf(body.containerId) ?? null };
      default:
        return false;
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    try {
      const body = JSON.parse(
        (
          await readLimitedBody(request, 64 * 1024, () => new IpamFailure(4, 'request too large'))
        ).toString('utf8') || '{}',
      ) as AddRequest;
      if (typeof body.containerId !== 'string' || body.containerId === '') {
        reply(400, { code: 4, message: 'containerId is required' });
        return;
      }
      const route = `${request.method ?? ''} ${request.url ?? ''}`;
      const answer = await this.#serve(route, body);
      if (answer === false) reply(404, { code: 4, message: `${route} is not served` });
      else reply(200, answer);
    } catch (error) {
      const code = error instanceof IpamFailure ? error.cniCode : 999;
      reply(500, { code, message: error instanceof Error ? error.message : String(error) });
    }
  }
}
