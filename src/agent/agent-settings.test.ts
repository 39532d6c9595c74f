import { describe, expect, it } from 'vitest';
import { agentSettingsFrom, envBoolean } from './agent-settings.js';

const base = {
  CNI_BIN_DIR: '/opt/cni/bin',
  CNI_CONF_DIR: '/etc/cni/net.d',
  AGENT_STATE_DIR: '/run/aws-node',
  MY_NODE_NAME: 'ip-192-168-1-1.us-west-2.compute.internal',
};

describe("aws-node's environment", () => {
  it('defaults as aws-node does: pod ENI off, strict, one warm address', () => {
    expect(agentSettingsFrom(base)).toMatchObject({
      enablePodEni: false,
      enforcingMode: 'strict',
      warmIpTarget: 1,
    });
  });

  it('reads booleans as strconv.ParseBool', () => {
    for (const value of ['true', 'TRUE', 'True', 't', '1'])
      expect(envBoolean({ X: value }, 'X', false)).toBe(true);
    for (const value of ['false', 'F', '0'])
      expect(envBoolean({ X: value }, 'X', true)).toBe(false);
    expect(() => envBoolean({ X: 'yes' }, 'X', false)).toThrow(
      'X must be true or false, not "yes"',
    );
  });

  it('refuses an unknown enforcing mode and a missing node name', () => {
    expect(
      agentSettingsFrom({ ...base, POD_SECURITY_GROUP_ENFORCING_MODE: 'standard' }).enforcingMode,
    ).toBe('standard');
    expect(() =>
      agentSettingsFrom({ ...base, POD_SECURITY_GROUP_ENFORCING_MODE: 'loose' }),
    ).toThrow(/strict or standard/);
    expect(() => agentSettingsFrom({ ...base, MY_NODE_NAME: '' })).toThrow(/MY_NODE_NAME/);
  });
});
