/**
 * Services in the API server with the real kubectl: `kubectl create service` (protobuf), the
 * `kubernetes` Service at start, ClusterIP allocation from 10.100.0.0/16 (asked-for addresses
 * checked), immutability, validation worded as apiserver, and the columns of services,
 * endpoints and endpointslices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeFixture, type KubeFixture } from '../support/kube-fixture.js';

describe('Services in the API server', () => {
  let fixture: KubeFixture;

  beforeAll(async () => {
    fixture = await startKubeFixture();
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it('keeps the kubernetes Service, its Endpoints and EndpointSlice', async () => {
    const services = await fixture.kubectl(['get', 'services']);
    expect(services.stdout).toMatch(/kubernetes\s+ClusterIP\s+10\.100\.0\.1\s+<none>\s+443\/TCP/);
    const endpoints = await fixture.kubectl(['get', 'endpoints', 'kubernetes']);
    expect(endpoints.stdout).toMatch(/kubernetes\s+127\.0\.0\.1:\d+/);
    const slices = await fixture.kubectl(['get', 'endpointslices']);
    expect(slices.stdout).toMatch(/kubernetes\s+IPv4\s+\d+\s+127\.0\.0\.1/);
  });

  it('allocates ClusterIPs, keeps them, and refuses taken or foreign ones', async () => {
    const created = await fixture.kubectl([
      'create',
      'service',
      'clusterip',
      'web',
      '--tcp=80:8080',
    ]);
    expect(created.stderr).toBe('');
    expect(created.stdout).toBe('service/web created\n');
    const web = JSON.parse(
      (await fixture.kubectl(['get', 'service', 'web', '-o', 'json'])).stdout,
    ) as {
      spec: Record<string, unknown>;
    };
    expect(web.spec).toMatchObject({
      type: 'ClusterIP',
      clusterIP: '10.100.0.2',
      clusterIPs: ['10.100.0.2'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      ports: [{ name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 }],
      selector: { app: 'web' },
    });
    expect((await fixture.kubectl(['get', 'service', 'web', '-o', 'wide'])).stdout).toMatch(
      /web\s+ClusterIP\s+10\.100\.0\.2\s+<none>\s+80\/TCP\s+\S+\s+app=web/,
    );
    const headless = await fixture.kubectl([
      'create',
      'service',
      'clusterip',
      'db',
      '--clusterip=None',
    ]);
    expect(headless.code).toBe(0);
    expect((await fixture.kubectl(['get', 'service', 'db'])).stdout).toMatch(
      /db\s+ClusterIP\s+None\s+<none>\s+<none>/,
    );

    const taken = await fixture.kubectl(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Service\nmetadata: {name: copy}\nspec: {clusterIP: 10.100.0.2, ports: [{port: 80}]}\n',
    );
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(
      'The Service "copy" is invalid: spec.clusterIPs: Invalid value: []string{"10.100.0.2"}: failed to allocate IP 10.100.0.2: provided IP is already allocated',
    );
    const foreign = await fixture.kubectl(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Service\nmetadata: {name: away}\nspec: {clusterIP: 192.168.0.10, ports: [{port: 80}]}\n',
    );
    expect(foreign.stderr).toContain('The range of valid IPs is 10.100.0.0/16');
    const portless = await fixture.kubectl(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Service\nmetadata: {name: portless}\nspec: {selector: {app: x}}\n',
    );
    expect(portless.stderr).toContain(
      'The Service "portless" is invalid: spec.ports: Required value',
    );

    // Updates keep the ClusterIP, and may not change it.
    await fixture.kubectl(['label', 'service', 'web', 'tier=front']);
    expect(
      (await fixture.kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout,
    ).toBe('10.100.0.2');
    const moved = await fixture.kubectl([
      'patch',
      'service',
      'web',
      '--type=merge',
      '-p',
      '{"spec":{"clusterIP":"10.100.0.9","clusterIPs":["10.100.0.9"]}}',
    ]);
    expect(moved.stderr).toContain(
      'spec.clusterIPs[0]: Invalid value: []string{"10.100.0.9"}: may not change once set',
    );
    // A deleted Service's address is free again.
    await fixture.kubectl(['delete', 'service', 'web']);
    await fixture.kubectl(['create', 'service', 'clusterip', 'again', '--tcp=443']);
    expect(
      (await fixture.kubectl(['get', 'service', 'again', '-o', 'jsonpath={.spec.clusterIP}']))
        .stdout,
    ).toBe('10.100.0.2');
  });
});
