/**
 * One trunk's bookkeeping, as the resource controller keeps it in memory (rc.md §4.3–§4.6): the
 * VLANs taken, the branch ENIs of each pod (by UID) with the groups they carry, and the
 * time-ordered delete queue of ENIs cooling down. A VLAN stays taken until its ENI is deleted,
 * so ENIs being made, in use and cooling down all count against the trunk's branch limit. Pure:
 * times are passed in (milliseconds).
 */
import type { BranchEniDetails } from '../policy/pod-eni-annotation.js';
import { lowestFreeVlan } from './branch-eni.js';

export interface BranchRecord {
  readonly details: BranchEniDetails;
  /** The groups the ENI carries (as made, or as last changed). */
  groups: readonly string[];
}

export interface QueuedDeletion {
  readonly eni: BranchEniDetails;
  /** When it was released; 0 = delete without cool-down (a rollback). */
  readonly releasedAt: number;
  readonly retries: number;
  /** False when another ENI holds the same VLAN (an orphan found by tag): deleting it frees none. */
  readonly ownsVlan: boolean;
}

/** After this many failed deletions an ENI leaves the queue (the leak collector gets it). */
export const maxDeleteRetries = 3;

export class TrunkLedger {
  readonly #vlans = new Set<number>();
  readonly #pods = new Map<string, BranchRecord[]>();
  #queue: QueuedDeletion[] = [];

  constructor(readonly branchLimit: number) {}

  get vlansTaken(): number {
    return this.#vlans.size;
  }

  /** Room for `wanted` more branch ENIs (taken VLANs: in use, being made, cooling down). */
  hasRoomFor(wanted: number): boolean {
    return this.#vlans.size + wanted <= this.branchLimit;
  }

  /** Takes `count` lowest free VLANs, or none when they do not fit. */
  takeVlans(count: number): number[] | undefined {
    if (!this.hasRoomFor(count)) return undefined;
    const taken: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const vlan = lowestFreeVlan(this.#vlans);
      if (vlan === undefined) {
        for (const each of taken) this.#vlans.delete(each);
        return undefined;
      }
      this.#vlans.add(vlan);
      taken.push(vlan);
    }
    return taken;
  }

  /** Marks a VLAN taken (rebuilt from an annotation or a tag); false if it already was. */
  markVlan(vlan: number): boolean {
    if (this.#vlans.has(vlan)) return false;
    this.#vlans.add(vlan);
    return true;
  }

  freeVlan(vlan: number): void {
    this.#vlans.delete(vlan);
  }

  hasPod(uid: string): boolean {
    return this.#pods.has(uid);
  }

  branchesOf(uid: string): readonly BranchRecord[] | undefined {
    return this.#pods.get(uid);
  }

  podUids(): string[] {
    return [...this.#pods.keys()];
  }

  assign(uid: string, records: BranchRecord[]): void {
    this.#pods.set(uid, records);
    for (const record of records) this.#vlans.add(record.details.vlanId);
  }

  /** The pod's ENIs go to the tail of the delete queue (released now, deleted after the cool-down). */
  release(uid: string, now: number): BranchEniDetails[] {
    const records = this.#pods.get(uid);
    if (!records) return [];
    this.#pods.delete(uid);
    for (const record of records)
      this.#queue.push({ eni: record.details, releasedAt: now, retries: 0, ownsVlan: true });
    return records.map((record) => record.details);
  }

  /** ENIs to delete without cool-down (a failed allocation): to the front of the queue. */
  releaseNow(enis: readonly BranchEniDetails[]): void {
    this.#queue.unshift(...enis.map((eni) => ({ eni, releasedAt: 0, retries: 0, ownsVlan: true })));
  }

  /** An orphan found in EC2 (no running pod refers to it): deleted after the cool-down. */
  queueOrphan(eni: BranchEniDetails, now: number): void {
    const ownsVlan = this.markVlan(eni.vlanId);
    this.#queue.push({ eni, releasedAt: now, retries: 0, ownsVlan });
  }

  /** Takes the deletions due at `now` from the front (the queue is time-ordered). */
  takeDue(now: number, coolDownMs: number): QueuedDeletion[] {
    const due: QueuedDeletion[] = [];
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as QueuedDeletion;
      if (head.releasedAt !== 0 && now - head.releasedAt < coolDownMs) break;
      due.push(head);
      this.#queue.shift();
    }
    return due;
  }

  /** When the next deletion falls due; undefined when the queue is empty. */
  nextDueAt(coolDownMs: number): number | undefined {
    const head = this.#queue[0];
    if (!head) return undefined;
    return head.releasedAt === 0 ? 0 : head.releasedAt + coolDownMs;
  }

  /** A deletion finished: its VLAN is free again. */
  deleted(deletion: QueuedDeletion): void {
    if (deletion.ownsVlan) this.#vlans.delete(deletion.eni.vlanId);
  }

  /** A deletion failed: retried first, or dropped (VLAN kept) after `maxDeleteRetries`. */
  deleteFailed(deletion: QueuedDeletion): 'retry' | 'dropped' {
    const retries = deletion.retries + 1;
    if (retries >= maxDeleteRetries) return 'dropped';
    this.#queue.unshift({ ...deletion, retries, releasedAt: 0 });
    return 'retry';
  }

  /** Every ENI still to delete, without cool-down (the node is gone). */
  drainAll(): QueuedDeletion[] {
    for (const uid of [...this.#pods.keys()]) this.release(uid, 0);
    const all = this.#queue.map((deletion) => ({ ...deletion, releasedAt: 0 }));
    this.#queue = [];
    return all;
  }
}
