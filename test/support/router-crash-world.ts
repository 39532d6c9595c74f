/** The two worlds of the crash test: "before" (applied) and "after" (built, then the crash). */
import type { SecurityGroup } from '../../src/core/sg/security-group.js';
import { group } from './router-fixture.js';

export const crashGroups = {
  db: 'sg-0000000000000000d',
  app: 'sg-0000000000000000a',
  gone: 'sg-0000000000000000e',
  added: 'sg-0000000000000000f',
} as const;

export interface CrashChildInput {
  readonly prefix: string;
  readonly namespace: string;
  readonly hosts: {
    eniId: string;
    networkInterfaceId: string;
    hostNamespace: string;
    address: string;
    groupIds: string[];
    groupIdsAfter: string[];
  }[];
}

export function crashWorldGroups(which: 'before' | 'after'): SecurityGroup[] {
  const { db, app, gone, added } = crashGroups;
  const dbRules = group(db, [
    ['ingress', { protocol: 'tcp', fromPort: 5432, toPort: 5432, referencedGroupId: app }],
  ]);
  if (which === 'before') {
    return [
      dbRules,
      group(app, []),
      group(gone, [
        ['ingress', { protocol: 'udp', fromPort: 53, toPort: 53, cidrIpv4: '10.0.0.0/16' }],
      ]),
    ];
  }
  return [
    dbRules,
    group(app, [
      ['ingress', { protocol: 'icmp', fromPort: 8, toPort: -1, cidrIpv4: '10.0.0.0/16' }],
    ]),
    group(added, [
      ['ingress', { protocol: 'tcp', fromPort: 22, toPort: 22, referencedGroupId: db }],
    ]),
  ];
}
