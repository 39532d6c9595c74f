import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { cidrContains, nthAddress, parseCidr, parseIpAddress } from './ip-address.js';

describe('addresses', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:0', '2001:db8:0:1::'],
    ['::', '::'],
  ])('parses %s as %s', (text, canonical) => {
    expect(parseIpAddress(text)?.text).toBe(canonical);
  });

  it.each([
    '10.0.0',
    '10.0.0.256',
    '010.0.0.1',
    '0x0a.0.0.1',
    'fe80::1%eth0',
    '',
    'abc',
    '1.2.3.4/32',
  ])('rejects %s', (text) => {
    expect(parseIpAddress(text)).toBeUndefined();
  });
});

describe('the IPv4 fast path', () => {
  it('agrees with ipaddr.js on every dotted quad (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const expected = ipaddr.IPv4.parse(text)
          .toByteArray()
          .reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
        expect(parseIpAddress(text)?.value).toBe(expected);
        expect(parseIpAddress(text)?.text).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('CIDRs', () => {
  it('canonicalises host bits away, as EC2 stores them', () => {
    expect(parseCidr('100.68.0.18/18')).toMatchObject({
      cidr: { text: '100.68.0.0/18' },
      wasCanonical: false,
    });
    expect(parseCidr('10.0.0.0/16')).toMatchObject({
      cidr: { text: '10.0.0.0/16' },
      wasCanonical: true,
    });
    expect(parseCidr('2001:db8::1/32')?.cidr.text).toBe('2001:db8::/32');
    expect(parseCidr('0.0.0.0/0')?.cidr.prefixLength).toBe(0);
  });

  it.each(['10.0.0.0/33', '10.0.0.0', '10.0.0.0/', '10.0.0.0/-1', '::/129', '10.0.0.0/1a', 'x/8'])(
    'rejects %s',
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );

  it('contains only addresses of its own family', () => {
    const v4 = parseCidr('10.0.0.0/8')!.cidr;
    expect(cidrContains(v4, parseIpAddress('10.255.0.1')!)).toBe(true);
    expect(cidrContains(v4, parseIpAddress('11.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('::/0')!.cidr, parseIpAddress('10.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!.cidr, parseIpAddress('::1')!)).toBe(false);
  });

  it('finds the resolver at base + 2', () => {
    expect(nthAddress(parseCidr('192.168.0.0/16')!.cidr, 2).text).toBe('192.168.0.2');
  });

  it('canonicalisation is idempotent (property)', () => {
    const v4 = fc
      .tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }))
      .map(([address, length]) => `${address}/${length}`);
    const v6 = fc
      .tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }))
      .map(([address, length]) => `${address}/${length}`);
    fc.assert(
      fc.property(fc.oneof(v4, v6), (text) => {
        const once = parseCidr(text);
        expect(once).toBeDefined();
        const twice = parseCidr(once!.cidr.text);
        expect(twice?.cidr).toEqual(once!.cidr);
        expect(twice?.wasCanonical).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
