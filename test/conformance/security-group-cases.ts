/**
 * One table of security-group cases, shared by every implementation that decides flows: the pure
 * evaluator (unit tests) and, later, real packets through nftables (integration tests). Each case
 * states groups and interfaces by alias; `buildCaseWorld` turns them into EC2-shaped ids.
 *
 * Cases numbered like `#7` are the conformance cases of reference/cni-sg.md; `P1`... are its
 * pod cases; `S…` are ours, derived from sections B1–B6 of the same document.
 */
import type { RuleSpec } from '../../src/core/sg/rule.js';

export interface CaseGroup {
  readonly ingress?: readonly RuleSpec[];
  /** Egress rules; omitted = a new group's default (all traffic to 0.0.0.0/0). */
  readonly egress?: readonly RuleSpec[];
}

export interface CaseInterface {
  readonly addresses: readonly string[];
  readonly groups: readonly string[];
  /** Interfaces naming the same host share one instance (several ENIs per host). */
  readonly host?: string;
}

export interface CaseCheck {
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly port?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly expect: 'allow' | 'deny';
  /**
   * For allowed flows: tracking at the destination interface (its ingress gate), or at the source
   * interface when the destination is outside. Untracked flows end as soon as their rule goes.
   */
  readonly tracking?: 'tracked' | 'untracked';
}

export interface SecurityGroupCase {
  readonly id: string;
  readonly title: string;
  readonly groups: Readonly<Record<string, CaseGroup>>;
  readonly interfaces: Readonly<Record<string, CaseInterface>>;
  readonly prefixLists?: Readonly<Record<string, readonly string[]>>;
  readonly vpcCidrs?: readonly string[];
  readonly checks: readonly CaseCheck[];
}

/** The reference setup: A, B, C in 10.0.0.0/16 (A, B dual-stack); X is outside the VPC. */
export const A = '10.0.1.10';
export const A6 = '2001:db8:1:1::a';
export const B = '10.0.2.20';
export const B6 = '2001:db8:1:2::b';
export const C = '10.0.3.30';
export const X = '203.0.113.5';

const tcp = (port: number, cidr: string): RuleSpec => ({
  protocol: 'tcp',
  fromPort: port,
  toPort: port,
  cidrIpv4: cidr,
});
const allFrom = (cidr: string): RuleSpec => ({ protocol: '-1', cidrIpv4: cidr });
const fromGroup = (protocol: string, group: string, port?: number): RuleSpec => ({
  protocol,
  ...(port === undefined ? {} : { fromPort: port, toPort: port }),
  referencedGroupId: group,
});
const none: readonly RuleSpec[] = [];
const abc = (a: readonly string[], b: readonly string[], c: readonly string[] = ['cNew']) => ({
  A: { addresses: [A, A6], groups: a },
  B: { addresses: [B, B6], groups: b },
  C: { addresses: [C], groups: c },
});

export const securityGroupCases: readonly SecurityGroupCase[] = [
  {
    id: '#1',
    title: 'default egress and an ingress rule allow a new flow',
    groups: { aNew: {}, bWeb: { ingress: [tcp(80, '0.0.0.0/0')] }, cNew: {} },
    interfaces: abc(['aNew'], ['bWeb']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow', tracking: 'untracked' }],
  },
  {
    id: '#2',
    title: 'a new group has no ingress',
    groups: { aNew: {}, bNew: {}, cNew: {} },
    interfaces: abc(['aNew'], ['bNew']),
    checks: [{ from: B, to: A, protocol: 'tcp', port: 22, expect: 'deny' }],
  },
  {
    id: '#4',
    title: 'new outbound flows need egress',
    groups: { aNew: {}, b: { ingress: [tcp(80, `${A}/32`)], egress: none }, cNew: {} },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow', tracking: 'tracked' },
      { from: B, to: A, protocol: 'tcp', port: 443, expect: 'deny' },
    ],
  },
  {
    id: '#5',
    title: 'the source egress must allow',
    groups: {
      a: { egress: [tcp(443, '0.0.0.0/0')] },
      bWeb: { ingress: [tcp(80, '0.0.0.0/0')] },
      cNew: {},
    },
    interfaces: abc(['a'], ['bWeb']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 80, expect: 'deny' }],
  },
  {
    id: '#6',
    title: 'the destination ingress must allow',
    groups: { aNew: {}, bNew: {}, cNew: {} },
    interfaces: abc(['aNew'], ['bNew']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 80, expect: 'deny' }],
  },
  {
    id: '#7',
    title: 'groups on one interface are a union',
    groups: {
      aNew: {},
      sg1: { ingress: [tcp(80, '10.0.1.0/24')] },
      sg2: { ingress: [tcp(443, '10.0.0.0/16')] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['sg1', 'sg2']),
    checks: [
      { from: C, to: B, protocol: 'tcp', port: 80, expect: 'deny' },
      { from: C, to: B, protocol: 'tcp', port: 443, expect: 'allow' },
      { from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow' },
    ],
  },
  {
    id: '#8',
    title: 'allow-only: a narrower group cannot restrict a wider one',
    groups: {
      aNew: {},
      wide: { ingress: [{ protocol: 'tcp', fromPort: 0, toPort: 65535, cidrIpv4: '10.0.0.0/16' }] },
      narrow: { ingress: [tcp(22, '10.9.9.9/32')] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['wide', 'narrow']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 22, expect: 'allow' }],
  },
  {
    id: '#10',
    title: 'the protocol must match',
    groups: { aNew: {}, b: { ingress: [tcp(53, '10.0.0.0/16')] }, cNew: {} },
    interfaces: abc(['aNew'], ['b']),
    checks: [{ from: A, to: B, protocol: 'udp', port: 53, expect: 'deny' }],
  },
  {
    id: '#11/#12',
    title: '-1 is all protocols and ports; a /32 excludes others',
    groups: { aNew: {}, b: { ingress: [allFrom(`${A}/32`)] }, cNew: {} },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 8080, expect: 'allow' },
      { from: A, to: B, protocol: 'udp', port: 5353, expect: 'allow' },
      { from: A, to: B, protocol: 'icmp', icmpType: 8, icmpCode: 0, expect: 'allow' },
      { from: A, to: B, protocol: '47', expect: 'allow' },
      { from: A, to: B, protocol: '-1', expect: 'allow' },
      { from: C, to: B, protocol: 'tcp', port: 22, expect: 'deny' },
    ],
  },
  {
    id: '#14',
    title: 'protocol "6" is tcp and its ports are honoured',
    groups: {
      aNew: {},
      b: { ingress: [{ protocol: '6', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' }] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 22, expect: 'allow' },
      { from: A, to: B, protocol: 'tcp', port: 23, expect: 'deny' },
    ],
  },
  {
    id: '#17',
    title: 'icmp -1/-1 is every type and code',
    groups: {
      aNew: {},
      b: { ingress: [{ protocol: 'icmp', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' }] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'icmp', icmpType: 8, icmpCode: 0, expect: 'allow' },
      { from: A, to: B, protocol: 'icmp', icmpType: 13, icmpCode: 0, expect: 'allow' },
    ],
  },
  {
    id: '#20/#21',
    title: 'an icmp rule does not cover icmpv6; icmpv6 without a range is every type',
    groups: {
      a4: { ingress: [{ protocol: 'icmp', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' }] },
      a6: { ingress: [{ protocol: 'icmpv6', cidrIpv6: '::/0' }] },
      b6: { egress: [{ protocol: '-1', cidrIpv6: '::/0' }] },
      cNew: {},
    },
    interfaces: {
      A: { addresses: [A, A6], groups: ['a4'] },
      B: { addresses: [B, B6], groups: ['b6'] },
      C: { addresses: [C, '2001:db8:1:3::c'], groups: ['a6'] },
    },
    checks: [
      { from: B6, to: A6, protocol: 'icmpv6', icmpType: 128, icmpCode: 0, expect: 'deny' },
      {
        from: B6,
        to: '2001:db8:1:3::c',
        protocol: 'icmpv6',
        icmpType: 128,
        icmpCode: 0,
        expect: 'allow',
      },
    ],
  },
  {
    id: '#22/#23',
    title: 'IPv4 and IPv6 rules are separate; a new group has no IPv6 egress',
    groups: {
      aNew: {},
      b4: { ingress: [tcp(443, '0.0.0.0/0')] },
      b6: { ingress: [{ protocol: 'tcp', fromPort: 80, toPort: 80, cidrIpv6: '::/0' }] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b4', 'b6']),
    checks: [
      { from: A6, to: B6, protocol: 'tcp', port: 443, expect: 'deny' },
      { from: A6, to: B6, protocol: 'tcp', port: 80, expect: 'deny' },
      { from: A, to: B, protocol: 'tcp', port: 443, expect: 'allow' },
    ],
  },
  {
    id: '#29',
    title: 'the default group admits its own members',
    groups: {
      default: { ingress: [{ protocol: '-1', referencedGroupId: 'default' }] },
      cNew: {},
    },
    interfaces: abc(['default'], ['default']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 9999, expect: 'allow' },
      { from: C, to: B, protocol: 'tcp', port: 9999, expect: 'deny' },
    ],
  },
  {
    id: '#32',
    title: 'a flow admitted by a specific source is tracked (survives rule removal)',
    groups: { aNew: {}, b: { ingress: [tcp(22, `${A}/32`)] }, cNew: {} },
    interfaces: abc(['aNew'], ['b']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 22, expect: 'allow', tracking: 'tracked' }],
  },
  {
    id: '#34',
    title: 'no open egress: the flow is tracked and its reply gets out',
    groups: { aNew: {}, b: { ingress: [tcp(80, '0.0.0.0/0')], egress: none }, cNew: {} },
    interfaces: abc(['aNew'], ['b']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow', tracking: 'tracked' }],
  },
  {
    id: '#35',
    title: 'another group still permits after one rule goes',
    groups: {
      aNew: {},
      sg1: { ingress: [] },
      sg2: { ingress: [tcp(80, '10.0.0.0/16')] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['sg1', 'sg2']),
    checks: [{ from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow' }],
  },
  {
    id: '#38',
    title: 'egress CIDRs match the destination',
    groups: {
      a: { egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrIpv4: '10.0.2.0/24' }] },
      open: { ingress: [allFrom('0.0.0.0/0')] },
    },
    interfaces: abc(['a'], ['open'], ['open']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 443, expect: 'allow' },
      { from: A, to: C, protocol: 'tcp', port: 443, expect: 'deny' },
    ],
  },
  {
    id: '#39',
    title: 'an empty rule set denies',
    groups: { empty: { ingress: [], egress: none }, aNew: {}, cNew: {} },
    interfaces: abc(['aNew'], ['empty']),
    checks: [
      { from: A, to: B, protocol: '-1', expect: 'deny' },
      { from: A, to: B, protocol: 'udp', port: 1, expect: 'deny' },
    ],
  },
  {
    id: '#40',
    title: 'the VPC resolver (base + 2) is not filtered by groups',
    groups: { a: { egress: none }, cNew: {} },
    interfaces: { A: { addresses: [A], groups: ['a'] }, C: { addresses: [C], groups: ['cNew'] } },
    vpcCidrs: ['10.0.0.0/16'],
    checks: [
      { from: A, to: '10.0.0.2', protocol: 'udp', port: 53, expect: 'allow' },
      { from: A, to: '10.0.0.2', protocol: 'tcp', port: 80, expect: 'deny' },
      { from: A, to: '169.254.169.254', protocol: 'tcp', port: 80, expect: 'allow' },
    ],
  },
  {
    id: 'S1',
    title: 'an outside host meets only the interface side gate',
    groups: {
      aNew: {},
      bWeb: { ingress: [tcp(80, '0.0.0.0/0')] },
      bVpc: { ingress: [tcp(81, '10.0.0.0/16')] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['bWeb', 'bVpc']),
    checks: [
      { from: X, to: B, protocol: 'tcp', port: 80, expect: 'allow', tracking: 'untracked' },
      { from: X, to: B, protocol: 'tcp', port: 81, expect: 'deny' },
      { from: A, to: X, protocol: 'tcp', port: 443, expect: 'allow' },
    ],
  },
  {
    id: 'S2',
    title: 'a group reference matches secondary and IPv6 addresses of members, not outsiders',
    groups: { client: {}, db: { ingress: [fromGroup('tcp', 'client', 5432)] }, cNew: {} },
    interfaces: {
      A: { addresses: [A, '10.0.1.11', A6], groups: ['client'] },
      B: { addresses: [B, B6], groups: ['db'] },
      C: { addresses: [C], groups: ['cNew'] },
    },
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 5432, expect: 'allow', tracking: 'tracked' },
      { from: '10.0.1.11', to: B, protocol: 'tcp', port: 5432, expect: 'allow' },
      { from: C, to: B, protocol: 'tcp', port: 5432, expect: 'deny' },
      { from: X, to: B, protocol: 'tcp', port: 5432, expect: 'deny' },
      { from: A, to: B, protocol: 'tcp', port: 5433, expect: 'deny' },
    ],
  },
  {
    id: 'S3',
    title: 'egress to a referenced group only',
    groups: {
      a: { egress: [fromGroup('tcp', 'db', 5432)] },
      db: { ingress: [allFrom('10.0.0.0/8')] },
      other: { ingress: [allFrom('10.0.0.0/8')] },
    },
    interfaces: abc(['a'], ['db'], ['other']),
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 5432, expect: 'allow' },
      { from: A, to: C, protocol: 'tcp', port: 5432, expect: 'deny' },
    ],
  },
  {
    id: 'S4',
    title: 'prefix lists match any of their entries',
    groups: {
      aNew: {},
      b: {
        ingress: [
          { protocol: 'tcp', fromPort: 443, toPort: 443, prefixListId: 'pl-0123456789abcdef0' },
        ],
      },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b']),
    prefixLists: { 'pl-0123456789abcdef0': ['10.0.1.0/24', '192.0.2.0/24'] },
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 443, expect: 'allow' },
      { from: C, to: B, protocol: 'tcp', port: 443, expect: 'deny' },
    ],
  },
  {
    id: 'S5',
    title: 'port ranges are inclusive; numbered protocols ignore ports',
    groups: {
      aNew: {},
      b: {
        ingress: [
          { protocol: 'udp', fromPort: 1000, toPort: 2000, cidrIpv4: '10.0.0.0/16' },
          { protocol: '47', fromPort: 5, toPort: 5, cidrIpv4: '10.0.0.0/16' },
        ],
      },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'udp', port: 999, expect: 'deny' },
      { from: A, to: B, protocol: 'udp', port: 1000, expect: 'allow' },
      { from: A, to: B, protocol: 'udp', port: 2000, expect: 'allow' },
      { from: A, to: B, protocol: 'udp', port: 2001, expect: 'deny' },
      { from: A, to: B, protocol: '47', expect: 'allow' },
      { from: A, to: B, protocol: '50', expect: 'deny' },
    ],
  },
  {
    id: 'S6',
    title: 'ICMP type and code',
    groups: {
      aNew: {},
      b: {
        ingress: [
          { protocol: 'icmp', fromPort: 8, toPort: -1, cidrIpv4: '0.0.0.0/0' },
          { protocol: 'icmp', fromPort: 3, toPort: 4, cidrIpv4: '0.0.0.0/0' },
        ],
      },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['b']),
    checks: [
      { from: A, to: B, protocol: 'icmp', icmpType: 8, icmpCode: 0, expect: 'allow' },
      { from: A, to: B, protocol: 'icmp', icmpType: 3, icmpCode: 4, expect: 'allow' },
      { from: A, to: B, protocol: 'icmp', icmpType: 3, icmpCode: 1, expect: 'deny' },
      { from: A, to: B, protocol: 'icmp', icmpType: 0, icmpCode: 0, expect: 'deny' },
    ],
  },
  {
    id: 'S7',
    title: 'a host with several interfaces: each address carries its own interface groups',
    groups: {
      eth0: {},
      eth1: { egress: none },
      b: { ingress: [allFrom('10.0.0.0/16')] },
    },
    interfaces: {
      A: { addresses: [A], groups: ['eth0'], host: 'a' },
      A1: { addresses: ['10.0.1.20'], groups: ['eth1'], host: 'a' },
      B: { addresses: [B], groups: ['b'] },
    },
    checks: [
      { from: A, to: B, protocol: 'tcp', port: 80, expect: 'allow' },
      { from: '10.0.1.20', to: B, protocol: 'tcp', port: 80, expect: 'deny' },
    ],
  },
  {
    id: 'S8',
    title: 'all-traffic questions need every protocol and port',
    groups: {
      aNew: {},
      tcpOnly: {
        ingress: [{ protocol: 'tcp', fromPort: 0, toPort: 65535, cidrIpv4: '0.0.0.0/0' }],
      },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['tcpOnly']),
    checks: [
      { from: A, to: B, protocol: '-1', expect: 'deny' },
      { from: A, to: B, protocol: 'tcp', port: 1, expect: 'allow' },
    ],
  },
  {
    id: 'S9',
    title: 'open in both directions: tcp and udp flows are untracked, icmp is always tracked',
    groups: {
      aNew: {},
      open: { ingress: [allFrom('0.0.0.0/0')] },
      cNew: {},
    },
    interfaces: abc(['aNew'], ['open']),
    checks: [
      { from: A, to: B, protocol: 'udp', port: 53, expect: 'allow', tracking: 'untracked' },
      { from: A, to: B, protocol: 'tcp', port: 22, expect: 'allow', tracking: 'untracked' },
    ],
  },
  {
    id: 'P1/P2',
    title: 'strict mode: a regular pod (node ENI secondary IP) reaching a branch pod',
    groups: {
      node: { ingress: [{ protocol: '-1', referencedGroupId: 'node' }] },
      pod: { ingress: [] },
      podOpen: { ingress: [fromGroup('tcp', 'node', 8080)] },
    },
    interfaces: {
      node: { addresses: ['192.168.10.5', '192.168.10.31'], groups: ['node'] },
      branch: { addresses: ['192.168.10.77'], groups: ['pod'] },
      branch2: { addresses: ['192.168.10.78'], groups: ['podOpen'] },
    },
    checks: [
      { from: '192.168.10.31', to: '192.168.10.77', protocol: 'tcp', port: 8080, expect: 'deny' },
      { from: '192.168.10.31', to: '192.168.10.78', protocol: 'tcp', port: 8080, expect: 'allow' },
    ],
  },
  {
    id: 'P6/P7',
    title: 'strict mode: DNS to CoreDNS on the node ENI, and the internet, under the pod group',
    groups: {
      node: { ingress: [{ protocol: '-1', referencedGroupId: 'node' }] },
      nodeDns: {
        ingress: [fromGroup('udp', 'pod', 53), fromGroup('tcp', 'pod', 53)],
      },
      pod: { egress: [{ protocol: '-1', cidrIpv4: '192.168.0.0/16' }] },
    },
    interfaces: {
      node: { addresses: ['192.168.10.5', '192.168.10.40'], groups: ['node'] },
      node2: { addresses: ['192.168.20.5', '192.168.20.40'], groups: ['node', 'nodeDns'] },
      branch: { addresses: ['192.168.10.77'], groups: ['pod'] },
    },
    checks: [
      { from: '192.168.10.77', to: '192.168.10.40', protocol: 'udp', port: 53, expect: 'deny' },
      { from: '192.168.10.77', to: '192.168.20.40', protocol: 'udp', port: 53, expect: 'allow' },
      { from: '192.168.10.77', to: '1.1.1.1', protocol: 'tcp', port: 443, expect: 'deny' },
    ],
  },
];
