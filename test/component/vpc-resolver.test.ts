/**
 * The VPC resolver over real loopback sockets (UDP and TCP), with a fake directory (the real one
 * is tested against the cloud's state elsewhere) and dns-packet as the client.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  NameAddresses,
  VpcDirectory,
} from '../../src/servers/cloud/link-local/vpc-directory.js';
import {
  startVpcResolver,
  type VpcResolver,
} from '../../src/servers/cloud/link-local/vpc-resolver.js';

const zone = 'us-west-2.compute.internal';
const names: Record<string, NameAddresses> = {
  [`ip-10-0-1-10.${zone}`]: { v4: ['10.0.1.10'], v6: [] },
  [`dual.${zone}`]: { v4: ['10.0.1.20', '10.0.1.21'], v6: ['2600:1f14::20'] },
};
const directory: VpcDirectory = {
  instanceByAddress: () => undefined,
  resolveName: (name) => names[name],
  isAuthoritativeFor: (name) => name === zone || name.endsWith(`.${zone}`),
};

const errors: unknown[] = [];
let resolver: VpcResolver;

beforeAll(async () => {
  resolver = await startVpcResolver({
    directory,
    addresses: ['127.0.0.1'],
    port: 0,
    onError: (error) => errors.push(error),
  });
});
afterAll(async () => {
  await resolver.close();
  expect(errors).toEqual([]);
});

let nextId = 1;
function query(name: string, type: RecordType, extra: Partial<Packet> = {}): Packet {
  return {
    type: 'query',
    id: nextId++,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...extra,
  };
}

/** Sends datagrams in order and waits (with a deadline) for the answer carrying `id`. */
function udpExchange(
  datagrams: Buffer[],
  id: number,
  options: { port?: number; host?: string } = {},
): Promise<DecodedPacket & { rcode?: string }> {
  const socket = dgram.createSocket('udp4');
  return new Promise<DecodedPacket & { rcode?: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no UDP answer with id ${id} within 5 s`));
    }, 5_000);
    socket.on('message', (message) => {
      const answer = dnsPacket.decode(message);
      if (answer.id !== id) return;
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
    for (const datagram of datagrams) {
      socket.send(datagram, options.port ?? resolver.port, options.host ?? '127.0.0.1');
    }
  }).finally(() => {
    socket.close();
  });
}

function ask(packet: Packet) {
  return udpExchange([dnsPacket.encode(packet)], packet.id ?? 0);
}

/** Writes `bytes` on one connection and collects `count` framed answers, or the close. */
function tcpExchange(
  bytes: Buffer,
  count: number,
): Promise<{ answers: DecodedPacket[]; closed: boolean }> {
  const socket = net.connect(resolver.port, '127.0.0.1');
  return new Promise<{ answers: DecodedPacket[]; closed: boolean }>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no ${count} TCP answers within 5 s`));
    }, 5_000);
    const answers: DecodedPacket[] = [];
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const end = 2 + pending.readUInt16BE(0);
        answers.push(dnsPacket.decode(pending.subarray(2, end)));
        pending = pending.subarray(end);
      }
      if (answers.length >= count) {
        clearTimeout(timer);
        resolve({ answers, closed: false });
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answers, closed: true });
    });
    socket.on('error', reject);
    socket.write(bytes);
  }).finally(() => {
    socket.destroy();
  });
}

describe('the VPC resolver over UDP', () => {
  it('answers A records authoritatively with TTL 60', async () => {
    const sent = query(`IP-10-0-1-10.${zone}.`, 'A');
    const answer = await ask(sent);
    expect(answer.id).toBe(sent.id);
    expect(answer.type).toBe('response');
    expect(answer.rcode).toBe('NOERROR');
    expect(answer.flag_aa).toBe(true);
    expect(answer.flag_rd).toBe(true);
    expect(answer.flag_ra).toBe(true);
    expect(answer.questions).toEqual([{ name: `IP-10-0-1-10.${zone}`, type: 'A', class: 'IN' }]);
    expect(answer.answers).toEqual([
      expect.objectContaining({
        name: `IP-10-0-1-10.${zone}`,
        type: 'A',
        ttl: 60,
        class: 'IN',
        data: '10.0.1.10',
      }),
    ]);
  });

  it('answers AAAA with the v6 addresses and A with all v4 ones', async () => {
    const v6 = await ask(query(`dual.${zone}`, 'AAAA'));
    expect(v6.answers?.map((record) => [record.type, 'data' in record && record.data])).toEqual([
      ['AAAA', '2600:1f14::20'],
    ]);
    const v4 = await ask(query(`dual.${zone}`, 'A'));
    expect(v4.answers?.map((record) => 'data' in record && record.data)).toEqual([
      '10.0.1.20',
      '10.0.1.21',
    ]);
  });

  it('copies RD as asked', async () => {
    const answer = await ask(query(`dual.${zone}`, 'A', { flags: 0 }));
    expect(answer.flag_rd).toBe(false);
    expect(answer.flag_ra).toBe(true);
  });

  it('answers NXDOMAIN for a missing name in its zone', async () => {
    const answer = await ask(query(`ip-10-0-9-9.${zone}`, 'A'));
    expect(answer.rcode).toBe('NXDOMAIN');
    expect(answer.flag_aa).toBe(true);
    expect(answer.answers).toEqual([]);
  });

  it('answers NODATA for a name without records of the type', async () => {
    for (const type of ['AAAA', 'MX', 'TXT'] as const) {
      const answer = await ask(query(`ip-10-0-1-10.${zone}`, type));
      expect({ type, rcode: answer.rcode, aa: answer.flag_aa }).toEqual({
        type,
        rcode: 'NOERROR',
        aa: true,
      });
      expect(answer.answers).toEqual([]);
    }
  });

  it('refuses names outside its zones', async () => {
    for (const name of ['example.com', 'amazonaws.com', 'compute.internal', '.']) {
      const answer = await ask(query(name, 'A'));
      expect({ name, rcode: answer.rcode, aa: answer.flag_aa }).toEqual({
        name,
        rcode: 'REFUSED',
        aa: false,
      });
    }
  });

  it('drops a garbage packet and still answers the next query', async () => {
    const valid = query(`dual.${zone}`, 'A');
    const garbage = [
      Buffer.from('not dns at all'),
      Buffer.alloc(0),
      Buffer.from([0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]),
      // A response must not be answered.
      dnsPacket.encode({ ...query(`dual.${zone}`, 'A'), type: 'response' }),
    ];
    const answer = await udpExchange([...garbage, dnsPacket.encode(valid)], valid.id ?? 0);
    expect(answer.answers).toHaveLength(2);
  });

  it('echoes EDNS and truncates what does not fit', async () => {
    // Twenty answers (about 1000 bytes, dns-packet does not compress names): over 512, under 1232.
    const many = Array.from({ length: 20 }, (_, index) => `10.1.${index >> 8}.${index & 255}`);
    names[`many.${zone}`] = { v4: many, v6: [] };
    const plain = await ask(query(`many.${zone}`, 'A'));
    expect(plain.flag_tc).toBe(true);
    expect(plain.answers).toEqual([]);
    const edns = await ask(
      query(`many.${zone}`, 'A', {
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 4096,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ],
      }),
    );
    expect(edns.flag_tc).toBe(false);
    expect(edns.answers).toHaveLength(20);
    expect(edns.additionals).toEqual([expect.objectContaining({ type: 'OPT' })]);
  });
});

describe('the VPC resolver over TCP', () => {
  it('answers two queries on one connection', async () => {
    const first = query(`ip-10-0-1-10.${zone}`, 'A');
    const second = query('example.com', 'AAAA');
    const bytes = Buffer.concat([dnsPacket.streamEncode(first), dnsPacket.streamEncode(second)]);
    const { answers } = await tcpExchange(bytes, 2);
    expect(answers.map((answer) => [answer.id, (answer as { rcode?: string }).rcode])).toEqual([
      [first.id, 'NOERROR'],
      [second.id, 'REFUSED'],
    ]);
    expect(answers[0]?.answers?.[0]).toEqual(expect.objectContaining({ data: '10.0.1.10' }));
  });

  it('answers a query split across writes', async () => {
    const sent = query(`dual.${zone}`, 'AAAA');
    const framed = dnsPacket.streamEncode(sent);
    const socket = net.connect(resolver.port, '127.0.0.1');
    try {
      const answer = await new Promise<DecodedPacket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5_000);
        let pending = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            clearTimeout(timer);
            resolve(dnsPacket.decode(pending.subarray(2)));
          }
        });
        socket.on('error', reject);
        socket.write(framed.subarray(0, 1));
        socket.write(framed.subarray(1, 9), () => socket.write(framed.subarray(9)));
      });
      expect(answer.id).toBe(sent.id);
    } finally {
      socket.destroy();
    }
  });

  it('closes the connection on a malformed frame', async () => {
    const frame = Buffer.from([0, 5, 1, 2, 3, 4, 5]);
    const result = await tcpExchange(frame, 1);
    expect(result).toEqual({ answers: [], closed: true });
  });
});

describe('several addresses', () => {
  it('serves UDP and TCP on the same port on every address', async () => {
    const pair = await startVpcResolver({
      directory,
      addresses: ['127.0.0.1', '127.0.0.2'],
      port: 0,
      onError: (error) => errors.push(error),
    });
    try {
      for (const host of ['127.0.0.1', '127.0.0.2']) {
        const sent = query(`dual.${zone}`, 'A');
        const answer = await udpExchange([dnsPacket.encode(sent)], sent.id ?? 0, {
          host,
          port: pair.port,
        });
        expect({ host, count: answer.answers?.length }).toEqual({ host, count: 2 });
        const connected = await new Promise<boolean>((resolve) => {
          const socket = net.connect(pair.port, host, () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        });
        expect({ host, connected }).toEqual({ host, connected: true });
      }
    } finally {
      await pair.close();
    }
  });
});
