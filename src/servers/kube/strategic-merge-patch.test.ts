import { describe, expect, it } from 'vitest';
import { strategicMergePatch, StrategicMergeError } from './strategic-merge-patch.js';

const deployment = {
  metadata: { name: 'green', labels: { app: 'green', tier: 'web' }, finalizers: ['a'] },
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      spec: {
        containers: [
          {
            name: 'app',
            image: 'demo:v1',
            args: ['--a', '--b'],
            env: [
              { name: 'E1', value: '1' },
              { name: 'E2', value: '2' },
            ],
            ports: [{ containerPort: 80, protocol: 'TCP' }],
          },
          { name: 'sidecar', image: 'side:v1' },
        ],
      },
    },
  },
};

const patch = (body: unknown) =>
  strategicMergePatch(
    'apps/deployments',
    structuredClone(deployment),
    body as Record<string, unknown>,
  );

describe('strategic merge patch', () => {
  it('merges containers by name, keeping the others (kubectl apply of an image change)', () => {
    const result = patch({
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
            containers: [{ image: 'demo:v2', name: 'app' }],
          },
        },
      },
    });
    const containers = (result.spec as typeof deployment.spec).template.spec.containers;
    expect(containers.map((c) => [c.name, c.image])).toEqual([
      ['app', 'demo:v2'],
      ['sidecar', 'side:v1'],
    ]);
    expect(containers[0]?.env).toEqual(deployment.spec.template.spec.containers[0]?.env);
  });

  it('adds an env var to every container, in the order given (kubectl set env)', () => {
    const result = patch({
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
            containers: [
              {
                '$setElementOrder/env': [{ name: 'E1' }, { name: 'E3' }, { name: 'E2' }],
                env: [{ name: 'E3', value: '3' }],
                name: 'app',
              },
              { env: [{ name: 'E3', value: '3' }], name: 'sidecar' },
            ],
          },
        },
      },
    });
    const [app, sidecar] = (result.spec as typeof deployment.spec).template.spec.containers;
    expect(app?.env?.map((e) => e.name)).toEqual(['E1', 'E3', 'E2']);
    expect(sidecar).toMatchObject({ env: [{ name: 'E3', value: '3' }] });
  });

  it('deletes by $patch, null and $deleteFromPrimitiveList; replaces primitive lists', () => {
    const result = patch({
      metadata: { labels: { tier: null }, '$deleteFromPrimitiveList/finalizers': ['a'] },
      spec: {
        strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' },
        template: {
          spec: {
            containers: [
              {
                name: 'app',
                args: ['--c'],
                env: [{ $patch: 'delete', name: 'E1' }],
                ports: [{ containerPort: 8080 }],
              },
              { $patch: 'delete', name: 'sidecar' },
            ],
          },
        },
      },
    });
    expect(result.metadata).toEqual({ name: 'green', labels: { app: 'green' }, finalizers: [] });
    const spec = result.spec as typeof deployment.spec;
    expect(spec.strategy).toEqual({ type: 'Recreate' });
    expect(spec.template.spec.containers).toEqual([
      {
        name: 'app',
        image: 'demo:v1',
        args: ['--c'],
        env: [{ name: 'E2', value: '2' }],
        ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 8080 }],
      },
    ]);
  });

  it('replaces a map or a list on $patch: replace, and unions finalizers', () => {
    const result = patch({
      metadata: { finalizers: ['b', 'a'], labels: { $patch: 'replace', only: 'this' } },
      spec: {
        template: { spec: { containers: [{ $patch: 'replace' }, { name: 'new', image: 'n' }] } },
      },
    });
    expect(result.metadata).toMatchObject({ finalizers: ['a', 'b'], labels: { only: 'this' } });
    expect((result.spec as typeof deployment.spec).template.spec.containers).toEqual([
      { name: 'new', image: 'n' },
    ]);
  });

  it('refuses list elements without their merge key', () => {
    expect(() => patch({ spec: { template: { spec: { containers: [{ image: 'x' }] } } } })).toThrow(
      StrategicMergeError,
    );
  });
});
