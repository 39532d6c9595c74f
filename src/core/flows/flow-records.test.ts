import { describe, expect, it } from 'vitest';
import {
  FlowAggregator,
  formatFlowRecord,
  parseFlowRecord,
  type FlowEvent,
} from './flow-records.js';

const syn: FlowEvent = {
  interfaceId: 'eni-0123456789abcdef0',
  action: 'REJECT',
  source: '192.168.1.220',
  destination: '192.168.40.12',
  sourcePort: 43122,
  destinationPort: 5432,
  protocol: 6,
  bytes: 60,
  time: 1_795_790_096.2,
};

describe('flow log records (v2)', () => {
  it('folds the packets of one flow and window into one record, per action and interface', () => {
    const flows = new FlowAggregator('123456789012');
    flows.add(syn);
    flows.add({ ...syn, time: syn.time + 1.5 });
    flows.add({ ...syn, action: 'ACCEPT', interfaceId: 'eni-0fedcba9876543210' });
    const [rejected, accepted, ...rest] = flows.flush();
    expect(rest).toEqual([]);
    expect(formatFlowRecord(rejected!)).toBe(
      '2 123456789012 eni-0123456789abcdef0 192.168.1.220 192.168.40.12 43122 5432 6 2 120 1795790096 1795790097 REJECT OK',
    );
    expect(accepted).toMatchObject({ action: 'ACCEPT', packets: 1, bytes: 60 });
    expect(flows.flush()).toEqual([]);
  });

  it('reads its own lines back, and nothing else', () => {
    const flows = new FlowAggregator('123456789012');
    flows.add(syn);
    const [record] = flows.flush();
    expect(parseFlowRecord(formatFlowRecord(record!))).toEqual(record);
    expect(parseFlowRecord('version account-id interface-id srcaddr dstaddr')).toBeUndefined();
    expect(parseFlowRecord('2 1 eni-1 a b x 1 6 1 1 1 1 ACCEPT OK')).toBeUndefined();
  });
});
