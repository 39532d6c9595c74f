/**
 * `sgpods explain` as users run it: the built binary, the workshop files in examples/workshop,
 * exit codes 0 / 1 / 2, text and JSON output, and clear messages for bad input.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const workshop = [
  '--security-groups',
  'examples/workshop/security-groups.json',
  '--network-interfaces',
  'examples/workshop/network-interfaces.json',
];
const rds = 'eni-0d44e55f66a77b884';
const greenPod = '192.168.100.41';
const redPod = '192.168.100.21';
const scratch = mkdtempSync(join(tmpdir(), 'sgpods-explain-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function scratchFile(name: string, content: string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

/** `sgpods explain --from <from> --to <RDS> --protocol tcp --port 5432 <extra> <workshop files>`. */
function explainToRds(from: string, ...extra: string[]) {
  return runCli([
    'explain',
    '--from',
    from,
    '--to',
    rds,
    '--protocol',
    'tcp',
    '--port',
    '5432',
    ...extra,
    ...workshop,
  ]);
}

describe('sgpods explain on the workshop scenario', () => {
  it('allows green (branch ENI with POD_SG) to reach RDS on 5432', () => {
    const result = explainToRds(greenPod);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ALLOWED: tcp port 5432 from 192\.168\.100\.41 to 192\.168\.130\.50/,
    );
    expect(result.stdout).toContain(
      'allowed by sg-0a1c3e5f7b9d2e409 (RDS_SG) ingress: tcp 5432 from sg-0b2d4f6a8c0e1a207 (POD_SG)',
    );
  });

  it('denies red (node ENI secondary IP, node SG) and says which gate and why', () => {
    const result = explainToRds(redPod);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^DENIED/);
    expect(result.stdout).toMatch(/ingress DENY/);
    expect(result.stdout).toContain(
      '192.168.100.21 is not a private IP of an interface carrying sg-0b2d4f6a8c0e1a207 (POD_SG)',
    );
  });

  it('prints verdict, egress and ingress as JSON', () => {
    const result = explainToRds(redPod, '--output', 'json');
    expect(result.code).toBe(1);
    interface Gate {
      decision: string;
      allowedBy: Record<string, unknown>[];
      nearMisses: { mismatch: string }[];
    }
    const json = JSON.parse(result.stdout) as { verdict: string; egress: Gate; ingress: Gate };
    expect(json.verdict).toBe('deny');
    expect(json.egress.decision).toBe('allow');
    expect(json.egress.allowedBy[0]).toMatchObject({
      groupName: 'eks-cluster-sg-eksworkshop-eksctl-1234567890',
      ipProtocol: '-1',
      cidrIpv4: '0.0.0.0/0',
      isEgress: true,
    });
    expect(json.ingress).toMatchObject({
      decision: 'deny',
      reason: 'no-rule-matched',
      networkInterfaceId: rds,
    });
    expect(json.ingress.nearMisses.map((miss) => miss.mismatch)).toEqual(['peer', 'peer']);
  });

  it('accepts interface ids on both ends and answers all-traffic questions', () => {
    const result = runCli([
      'explain',
      '--from',
      'eni-0c33d44e55f66a773',
      '--to',
      rds,
      '--protocol',
      '-1',
      ...workshop,
    ]);
    expect(result.code).toBe(1);
    const dns = runCli([
      'explain',
      '--from',
      greenPod,
      '--to',
      '192.168.100.22',
      '--protocol',
      'udp',
      '--port',
      '53',
      ...workshop,
    ]);
    expect(dns.code).toBe(0);
    expect(dns.stdout).toContain('udp 53 from sg-0b2d4f6a8c0e1a207 (POD_SG)');
  });

  it('does not filter the VPC resolver given --vpc-cidr', () => {
    const result = runCli([
      'explain',
      '--from',
      redPod,
      '--to',
      '192.168.0.2',
      '--protocol',
      'udp',
      '--port',
      '53',
      '--vpc-cidr',
      '192.168.0.0/16',
      ...workshop,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("VPC's Amazon-provided DNS resolver");
  });

  it('uses prefix lists', () => {
    const groups = scratchFile(
      'pl-groups.json',
      JSON.stringify({
        SecurityGroups: [
          {
            GroupId: 'sg-00000000000000001',
            GroupName: 'a',
            IpPermissions: [],
            IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
          },
          {
            GroupId: 'sg-00000000000000002',
            GroupName: 'b',
            IpPermissions: [
              {
                IpProtocol: 'tcp',
                FromPort: 443,
                ToPort: 443,
                PrefixListIds: [{ PrefixListId: 'pl-00000000000000001' }],
              },
            ],
          },
        ],
      }),
    );
    const enis = scratchFile(
      'pl-enis.json',
      JSON.stringify({
        NetworkInterfaces: [
          {
            NetworkInterfaceId: 'eni-00000000000000001',
            PrivateIpAddress: '10.0.1.10',
            Groups: [{ GroupId: 'sg-00000000000000001' }],
          },
          {
            NetworkInterfaceId: 'eni-00000000000000002',
            PrivateIpAddresses: [{ PrivateIpAddress: '10.0.2.20', Primary: true }],
            Groups: [{ GroupId: 'sg-00000000000000002' }],
          },
        ],
      }),
    );
    const lists = scratchFile(
      'pl.json',
      JSON.stringify({
        PrefixLists: [{ PrefixListId: 'pl-00000000000000001', Entries: [{ Cidr: '10.0.1.0/24' }] }],
      }),
    );
    const args = [
      'explain',
      '--from',
      '10.0.1.10',
      '--to',
      '10.0.2.20',
      '--protocol',
      'tcp',
      '--port',
      '443',
      '--security-groups',
      groups,
      '--network-interfaces',
      enis,
    ];
    const without = runCli(args);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain('entries of pl-00000000000000001 are unknown');
    expect(runCli([...args, '--prefix-lists', lists]).code).toBe(0);
  });
});

describe('sgpods explain on bad input', () => {
  const flow = ['--from', greenPod, '--to', rds];
  it.each<[string, string[], RegExp]>([
    [
      'tcp without --port',
      [...flow, '--protocol', 'tcp', ...workshop],
      /--protocol tcp needs --port/,
    ],
    [
      '--port with icmp',
      [...flow, '--protocol', 'icmp', '--icmp-type', '8', '--port', '5', ...workshop],
      /--port applies to tcp and udp, not icmp/,
    ],
    [
      'port out of range',
      [...flow, '--protocol', 'tcp', '--port', '65536', ...workshop],
      /--port must be an integer from 0 to 65535/,
    ],
    ['unknown protocol', [...flow, '--protocol', 'gre', ...workshop], /--protocol must be/],
    [
      'unknown interface',
      ['--from', 'eni-0000000000000000f', '--to', rds, '--protocol', '-1', ...workshop],
      /no such network interface/,
    ],
    [
      'not an address',
      ['--from', 'db.example', '--to', rds, '--protocol', '-1', ...workshop],
      /must be an IP address or a network interface id/,
    ],
    [
      'missing option',
      ['--from', greenPod, '--protocol', '-1', ...workshop],
      /required option '--to/,
    ],
    [
      'no interface at either end',
      ['--from', '8.8.8.8', '--to', '1.1.1.1', '--protocol', '-1', ...workshop],
      /neither 8\.8\.8\.8 nor 1\.1\.1\.1/,
    ],
    [
      'missing file',
      [
        ...flow,
        '--protocol',
        '-1',
        '--security-groups',
        '/nonexistent/sg.json',
        '--network-interfaces',
        'x',
      ],
      /\/nonexistent\/sg\.json: cannot read: no such file/,
    ],
  ])('%s -> exit 2', (_name, args, message) => {
    const result = runCli(['explain', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it.each<[string, unknown, RegExp]>([
    ['malformed JSON', '{"SecurityGroups": [', /bad\.json: not valid JSON/],
    [
      'bad CIDR',
      {
        SecurityGroups: [
          {
            GroupId: 'sg-00000000000000001',
            IpPermissions: [
              { IpProtocol: 'tcp', FromPort: 1, ToPort: 1, IpRanges: [{ CidrIp: '10.0.0.0/33' }] },
            ],
          },
        ],
      },
      /SecurityGroups\[0\]\.IpPermissions\[0\]\.IpRanges\[0\]\.CidrIp: CIDR block 10\.0\.0\.0\/33 is malformed/,
    ],
    [
      'port out of range in a rule',
      {
        SecurityGroups: [
          {
            GroupId: 'sg-00000000000000001',
            IpPermissions: [
              {
                IpProtocol: 'tcp',
                FromPort: 1,
                ToPort: 70000,
                IpRanges: [{ CidrIp: '10.0.0.0/8' }],
              },
            ],
          },
        ],
      },
      /IpRanges\[0\]\.CidrIp: Invalid value '70000' for portRange/,
    ],
    [
      'wrong type',
      { SecurityGroups: [{ GroupId: 'sg-00000000000000001', IpPermissions: [{ IpProtocol: 6 }] }] },
      /IpPermissions\[0\]\.IpProtocol: expected a string, found number 6/,
    ],
    [
      'bad group id',
      { SecurityGroups: [{ GroupId: 'my-group' }] },
      /SecurityGroups\[0\]\.GroupId: "my-group" is not a valid id \(expecting "sg-\.\.\."\)/,
    ],
    ['no list', { Groups: [] }, /expected a "SecurityGroups" list/],
  ])(
    'a security-groups file with %s -> exit 2 naming file and field',
    (_name, content, message) => {
      const file = scratchFile(
        'bad.json',
        typeof content === 'string' ? content : JSON.stringify(content),
      );
      const result = runCli([
        'explain',
        '--from',
        greenPod,
        '--to',
        rds,
        '--protocol',
        '-1',
        '--security-groups',
        file,
        '--network-interfaces',
        'examples/workshop/network-interfaces.json',
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    },
  );

  it('an interface whose group is missing from the groups file -> exit 2', () => {
    const groups = scratchFile('few-groups.json', JSON.stringify({ SecurityGroups: [] }));
    const result = runCli([
      'explain',
      '--from',
      greenPod,
      '--to',
      rds,
      '--protocol',
      '-1',
      '--security-groups',
      groups,
      '--network-interfaces',
      'examples/workshop/network-interfaces.json',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /NetworkInterfaces\[0\]\.Groups\[0\]\.GroupId: sg-0c3e5d7f9a1b2c305 is not in .*few-groups\.json/,
    );
  });
});

describe('the sgpods command', () => {
  it('prints help and version with exit 0, and usage errors with exit 2', () => {
    expect(runCli(['--help']).code).toBe(0);
    expect(runCli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(runCli(['no-such-command']).code).toBe(2);
  });
});
