import { describe, expect, it } from 'vitest';
import { NflogPcapError, NflogPcapReader } from './nflog-pcap.js';

// Captured with `tcpdump -i nflog:5 -w -` from a ping to 127.0.0.1 that the rule
// `icmp type echo-request log prefix "DE eni-abc " group 5` logged on output (out ifindex 1).
const capture = Buffer.from(
  'd4c3b2a102000400000000000000000000000400ef0000001095096bcd2d09008c0000008c00000002000005080001000800030010000a00444520656e692d6162632000080005000000000108000b000000000008000e00000000005800090045000054def4400040015db27f0000017f000001080007ad6b7600010f95096b00000000a408090000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
  'hex',
);

describe('the NFLOG pcap reader', () => {
  it('decodes the prefix, the interfaces and the packet of each record', () => {
    const [packet, ...rest] = new NflogPcapReader().push(capture);
    expect(rest).toEqual([]);
    expect(packet).toMatchObject({
      prefix: 'DE eni-abc ',
      inIfindex: undefined,
      outIfindex: 1,
      source: '127.0.0.1',
      destination: '127.0.0.1',
      protocol: 1,
      sourcePort: 0,
      destinationPort: 0,
      bytes: 84,
    });
    expect(packet?.time).toBeCloseTo(1_795_790_096.601, 2);
  });

  it('waits for whole records across chunks, byte by byte', () => {
    const reader = new NflogPcapReader();
    const packets = [...capture].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(packets).toHaveLength(1);
  });

  it('refuses a stream that is not NFLOG pcap', () => {
    const ethernet = Buffer.from(capture);
    ethernet.writeUInt32LE(1, 20);
    expect(() => new NflogPcapReader().push(ethernet)).toThrow(NflogPcapError);
    expect(() => new NflogPcapReader().push(Buffer.alloc(24, 7))).toThrow(
      'not a little-endian pcap',
    );
  });
});
