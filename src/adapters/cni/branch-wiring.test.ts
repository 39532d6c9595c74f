import { describe, expect, it } from 'vitest';
import {
  branchHostVethName,
  branchStateFromPrevResult,
  vlanInterfaceName,
  vlanRouteTable,
} from './branch-wiring.js';

describe("the VPC CNI's branch-pod names and bookkeeping (cni-sg.md A4, A8)", () => {
  it('names the host veth by mode within IFNAMSIZ, the VLAN port and its route table', () => {
    const strict = branchHostVethName('abc', 'strict');
    const standard = branchHostVethName('abc', 'standard');
    expect(strict).toMatch(/^vlan[0-9a-f]{11}$/);
    expect(standard).toMatch(/^eni[0-9a-f]{11}$/);
    expect(strict.slice(4)).toBe(standard.slice(3));
    expect(strict.length).toBeLessThanOrEqual(15);
    expect(vlanInterfaceName(7)).toBe('vlan.eth.7');
    expect(vlanRouteTable(1)).toBe(101);
    expect(vlanRouteTable(120)).toBe(220);
  });

  it('reads a branch pod back from its ADD result (the dummy interface holds the VLAN)', () => {
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'vlan0123456789a', mac: '02:00:00:00:00:01' },
        { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p' },
        { name: 'dummy0123456789a', mac: '5' },
      ],
      ips: [{ address: '192.168.1.9/32', gateway: '169.254.1.1', interface: 1 }],
    };
    expect(branchStateFromPrevResult('c1', prevResult)).toEqual({
      kind: 'branch',
      containerId: 'c1',
      hostVeth: 'vlan0123456789a',
      vlanId: 5,
      address: '192.168.1.9',
      mode: 'strict',
    });
    const regular = {
      interfaces: [{ name: 'veth1' }, { name: 'eth0' }],
      ips: [{ address: '192.168.1.8/32' }],
    };
    expect(branchStateFromPrevResult('c2', regular)).toBeUndefined();
    expect(branchStateFromPrevResult('c3', undefined)).toBeUndefined();
  });
});
