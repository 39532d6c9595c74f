import { describe, expect, it } from 'vitest';
import type { BranchEniDetails } from '../policy/pod-eni-annotation.js';
import { TrunkLedger } from './trunk-ledger.js';

const eni = (vlanId: number, eniId = `eni-${String(vlanId)}`): BranchEniDetails => ({
  eniId,
  ifAddress: '02:00:00:00:00:01',
  privateIp: '10.0.0.1',
  ipv6Addr: '',
  vlanId,
  subnetCidr: '10.0.0.0/24',
  subnetV6Cidr: '',
  associationID: `trunk-assoc-${String(vlanId)}`,
});

describe('a trunk ledger (rc.md §4.3–§4.6)', () => {
  it('takes the lowest free VLANs and refuses what does not fit', () => {
    const ledger = new TrunkLedger(3);
    expect(ledger.takeVlans(2)).toEqual([1, 2]);
    expect(ledger.takeVlans(2)).toBeUndefined();
    expect(ledger.vlansTaken).toBe(2);
    ledger.freeVlan(1);
    expect(ledger.takeVlans(2)).toEqual([1, 3]);
  });

  it('counts ENIs cooling down until they are deleted', () => {
    const ledger = new TrunkLedger(2);
    ledger.assign('a', [{ details: eni(1), groups: ['sg-1'] }]);
    ledger.assign('b', [{ details: eni(2), groups: ['sg-1'] }]);
    expect(ledger.hasRoomFor(1)).toBe(false);
    expect(ledger.release('a', 1_000).map((each) => each.eniId)).toEqual(['eni-1']);
    expect(ledger.hasPod('a')).toBe(false);
    expect(ledger.hasRoomFor(1)).toBe(false);
    expect(ledger.takeDue(30_000, 60_000)).toEqual([]);
    expect(ledger.nextDueAt(60_000)).toBe(61_000);
    const [due] = ledger.takeDue(61_000, 60_000);
    expect(due?.eni.eniId).toBe('eni-1');
    ledger.deleted(due!);
    expect(ledger.takeVlans(1)).toEqual([1]);
  });

  it('deletes rollbacks first and without cool-down, retries failures, drops after three', () => {
    const ledger = new TrunkLedger(10);
    ledger.assign('a', [{ details: eni(1), groups: [] }]);
    ledger.release('a', 5_000);
    ledger.takeVlans(1);
    ledger.releaseNow([eni(2)]);
    expect(ledger.nextDueAt(60_000)).toBe(0);
    const [first] = ledger.takeDue(6_000, 60_000);
    expect(first?.eni.eniId).toBe('eni-2');
    expect(ledger.deleteFailed(first!)).toBe('retry');
    const [again] = ledger.takeDue(6_000, 60_000);
    expect(again?.retries).toBe(1);
    expect(ledger.deleteFailed(again!)).toBe('retry');
    const [last] = ledger.takeDue(6_000, 60_000);
    expect(ledger.deleteFailed(last!)).toBe('dropped');
    expect(ledger.vlansTaken).toBe(2);
  });

  it('keeps a VLAN held by a pod when an orphan carries the same tag', () => {
    const ledger = new TrunkLedger(10);
    ledger.assign('a', [{ details: eni(1), groups: [] }]);
    ledger.queueOrphan(eni(1, 'eni-orphan'), 0);
    ledger.queueOrphan(eni(2, 'eni-orphan-2'), 0);
    expect(ledger.vlansTaken).toBe(2);
    const due = ledger.takeDue(60_000, 60_000);
    for (const each of due) ledger.deleted(each);
    expect(ledger.vlansTaken).toBe(1);
    expect(ledger.podUids()).toEqual(['a']);
    expect(ledger.branchesOf('a')?.map((record) => record.details.eniId)).toEqual(['eni-1']);
  });

  it('drains everything without cool-down when the node is gone', () => {
    const ledger = new TrunkLedger(10);
    ledger.assign('a', [{ details: eni(1), groups: [] }]);
    ledger.assign('b', [{ details: eni(2), groups: [] }]);
    ledger.release('b', 100);
    expect(
      ledger
        .drainAll()
        .map((each) => [each.eni.eniId, each.releasedAt])
        .sort(),
    ).toEqual([
      ['eni-1', 0],
      ['eni-2', 0],
    ]);
    expect(ledger.podUids()).toEqual([]);
  });
});
