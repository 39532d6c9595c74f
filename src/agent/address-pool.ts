/**
 * ipamd's bookkeeping for regular pods: the secondary private addresses the node's primary
 * interface holds, which container each one is given to, and how many to keep free (a warm
 * target, so a pod start rarely waits for EC2). Persisted to a file after every change, so an
 * agent restart keeps every pod's address; EC2 stays the truth for what the interface holds.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface Allocation {
  readonly containerId: string;
  readonly ifname: string;
  readonly podNamespace?: string;
  readonly podName?: string;
}

interface PoolFile {
  readonly interfaceId: string;
  readonly allocations: Record<string, Allocation>;
}

export class AddressPool {
  /** Secondary addresses the interface holds (from EC2). */
  #assigned: string[] = [];
  readonly #allocations = new Map<string, Allocation>();

  constructor(
    readonly interfaceId: string,
    private readonly path: string,
  ) {
    if (!existsSync(path)) return;
    const saved = JSON.parse(readFileSync(path, 'utf8')) as PoolFile;
    if (saved.interfaceId !== interfaceId) return;
    for (const [address, allocation] of Object.entries(saved.allocations)) {
      this.#allocations.set(address, allocation);
    }
  }

  /** What EC2 says the interface holds; allocations of addresses it no longer holds are dropped. */
  setAssigned(addresses: readonly string[]): void {
    this.#assigned = [...addresses];
    for (const address of [...this.#allocations.keys()]) {
      if (!addresses.includes(address)) this.#allocations.delete(address);
    }
    this.#save();
  }

  addressOf(containerId: string): string | undefined {
    for (const [address, allocation] of this.#allocations) {
      if (allocation.containerId === containerId) return address;
    }
    return undefined;
  }

  /** Every allocation with its address. */
  entries(): (Allocation & { readonly address: string })[] {
    return [...this.#allocations].map(([address, allocation]) => ({ ...allocation, address }));
  }

  free(): string[] {
    return this.#assigned.filter((address) => !this.#allocations.has(address));
  }

  get allocated(): number {
    return this.#allocations.size;
  }

  /** Gives the lowest free address to the container (undefined: none free). */
  allocate(allocation: Allocation): string | undefined {
    const existing = this.addressOf(allocation.containerId);
    if (existing) return existing;
    const address = this.free()[0];
    if (address === undefined) return undefined;
    this.#allocations.set(address, allocation);
    this.#save();
    return address;
  }

  /** Returns the container's address to the pool; undefined when it had none. */
  release(containerId: string): string | undefined {
    const address = this.addressOf(containerId);
    if (address === undefined) return undefined;
    this.#allocations.delete(address);
    this.#save();
    return address;
  }

  #save(): void {
    const file: PoolFile = {
      interfaceId: this.interfaceId,
      allocations: Object.fromEntries(this.#allocations),
    };
    writeFileSync(`${this.path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
    renameSync(`${this.path}.tmp`, this.path);
  }
}
