import { describe, expect, it } from 'vitest';
import {
  containerArgv,
  containerEnvironment,
  expandReferences,
  podFieldValue,
} from './container-env.js';

const pod = {
  metadata: { name: 'green-1', namespace: 'sg-per-pod', uid: 'u-1', labels: { app: 'green' } },
  spec: { nodeName: 'node-a' },
  status: { podIP: '10.244.1.5', hostIP: '10.250.1.2' },
};

const sources = {
  secret: (name: string) => (name === 'rds' ? { password: 's3cret' } : undefined),
  configMap: (name: string) => (name === 'settings' ? { mode: 'fast', level: '3' } : undefined),
};

describe('container environment', () => {
  it('resolves values, secrets, config maps and pod fields in order', () => {
    const result = containerEnvironment(
      pod,
      {
        envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
        env: [
          { name: 'HOST', value: 'db.example' },
          { name: 'URL', value: 'postgres://$(HOST)/x and $(MISSING) and $$' },
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'rds', key: 'password' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          {
            name: 'OPT',
            valueFrom: { secretKeyRef: { name: 'absent', key: 'x', optional: true } },
          },
        ],
      },
      sources,
    );
    expect(result).toEqual({
      ok: true,
      env: {
        CFG_mode: 'fast',
        CFG_level: '3',
        HOST: 'db.example',
        URL: 'postgres://db.example/x and $(MISSING) and $',
        PASSWORD: 's3cret',
        POD_IP: '10.244.1.5',
        APP: 'green',
      },
    });
  });

  it('words missing secrets and keys as the kubelet does', () => {
    const missingSecret = containerEnvironment(
      pod,
      { env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] },
      sources,
    );
    expect(missingSecret).toEqual({ ok: false, message: 'secret "nope" not found' });
    const missingKey = containerEnvironment(
      pod,
      { env: [{ name: 'P', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }] },
      sources,
    );
    expect(missingKey).toEqual({
      ok: false,
      message: "couldn't find key k in ConfigMap sg-per-pod/settings",
    });
  });

  it('builds argv from entrypoint, command and args', () => {
    const busybox = { entrypoint: [], cmd: ['/bin/sh'] };
    expect(containerArgv({}, busybox, {})).toEqual(['/bin/sh']);
    expect(containerArgv({ args: ['sh', '-c', 'echo $(X)'] }, busybox, { X: 'hi' })).toEqual([
      'sh',
      '-c',
      'echo hi',
    ]);
    expect(containerArgv({ command: ['sleep'], args: ['5'] }, busybox, {})).toEqual(['sleep', '5']);
    const withEntrypoint = { entrypoint: ['/entry'], cmd: ['serve'] };
    expect(containerArgv({}, withEntrypoint, {})).toEqual(['/entry', 'serve']);
    expect(containerArgv({ args: ['check'] }, withEntrypoint, {})).toEqual(['/entry', 'check']);
    expect(containerArgv({ command: ['/bin/true'] }, withEntrypoint, {})).toEqual(['/bin/true']);
    expect(expandReferences('$(A)$(B)', { A: '1' })).toBe('1$(B)');
    expect(podFieldValue(pod, 'spec.nodeName')).toBe('node-a');
    expect(podFieldValue(pod, 'spec.unknown')).toBeUndefined();
  });
});
