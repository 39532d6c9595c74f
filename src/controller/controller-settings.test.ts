import { describe, expect, it } from 'vitest';
import { controllerSettingsFrom, flagBoolean } from './controller-settings.js';

describe('controller flags', () => {
  const required = { clusterName: 'c', vpcId: 'vpc-1' };

  it('defaults to the safer behaviours and upstream EC2 limits', () => {
    const settings = controllerSettingsFrom(required);
    expect(settings.behaviour).toEqual({
      fallbackToInstanceSg: false,
      livePolicy: true,
      recreateUnadmittedPods: true,
    });
    expect([settings.userClientQps, settings.userClientBurst]).toEqual([12, 18]);
  });

  it('reads Go-style booleans and refuses anything else', () => {
    expect(flagBoolean('--x', undefined, true)).toBe(true);
    expect(flagBoolean('--x', true, false)).toBe(true);
    expect(flagBoolean('--x', 'false', true)).toBe(false);
    expect(flagBoolean('--x', 'T', false)).toBe(true);
    expect(flagBoolean('--x', '0', true)).toBe(false);
    expect(() => flagBoolean('--live-policy', 'maybe', true)).toThrow(
      'invalid --live-policy "maybe": true or false',
    );
    expect(
      controllerSettingsFrom({ ...required, fallbackToInstanceSg: 'true', livePolicy: 'false' })
        .behaviour,
    ).toMatchObject({ fallbackToInstanceSg: true, livePolicy: false });
  });
});
