/**
 * The API server's request decoding under random input: protobuf bodies of any bytes, and
 * random methods, paths, content types and bodies over HTTPS. Every answer is a Status (or a
 * success), never a 5xx, and the server keeps serving.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeStatusError } from '../../src/core/errors.js';
import { startKubeApiServer, type KubeApiServer } from '../../src/servers/kube/kube-api-server.js';
import { decodeProtobufBody } from '../../src/servers/kube/protobuf-body.js';

describe('request decoding under random input', () => {
  it('decodes any protobuf body to an object or refuses it with a Status error', () => {
    const magic = Buffer.from('k8s\0', 'binary');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withMagic) => {
        const body = withMagic ? Buffer.concat([magic, Buffer.from(bytes)]) : Buffer.from(bytes);
        try {
          const object = decodeProtobufBody(body);
          expect(typeof object.kind).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(KubeStatusError);
          expect([400, 415]).toContain((error as KubeStatusError).httpStatus);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes random objects inside a well-formed envelope of every protobuf kind', () => {
    const field = (number: number, bytes: Buffer) => {
      const length: number[] = [];
      let rest = bytes.length;
      do {
        length.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
        rest >>= 7;
      } while (rest > 0);
      return Buffer.concat([Buffer.from([(number << 3) | 2, ...length]), bytes]);
    };
    const kinds = ['Namespace', 'Secret', 'ConfigMap', 'Deployment'];
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.uint8Array({ maxLength: 300 }), (kind, raw) => {
        const typeMeta = Buffer.concat([
          field(1, Buffer.from(kind === 'Deployment' ? 'apps/v1' : 'v1')),
          field(2, Buffer.from(kind)),
        ]);
        const body = Buffer.concat([
          Buffer.from('k8s\0', 'binary'),
          field(1, typeMeta),
          field(2, Buffer.from(raw)),
        ]);
        try {
          expect(decodeProtobufBody(body).kind).toBe(kind);
        } catch (error) {
          expect(error).toBeInstanceOf(KubeStatusError);
          expect((error as KubeStatusError).httpStatus).toBe(400);
        }
      }),
      { numRuns: 3000 },
    );
  });

  let home: string;
  let server: KubeApiServer;
  let token = '';
  let ca = '';

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sgpods-kube-fuzz-'));
    server = await startKubeApiServer({ home });
    ca = readFileSync(join(home, 'pki', 'ca.crt'), 'utf8');
    token = readFileSync(join(home, 'kube-tokens.csv'), 'utf8').split(',')[0] ?? '';
  });

  afterAll(async () => {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  });

  const send = (method: string, path: string, contentType: string, body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = httpsRequest(
        `${server.url}${path}`,
        {
          method,
          ca,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.on('error', reject);
      request.end(body);
    });

  it('answers random requests with a success or a Status, never a 5xx', async () => {
    const segment = fc.constantFrom(
      'api',
      'apis',
      'v1',
      'apps',
      'namespaces',
      'default',
      'configmaps',
      'pods',
      'x',
      '%',
      '..',
      'status',
      '',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.array(segment, { maxLength: 7 }),
        fc.constantFrom(
          'application/json',
          'application/merge-patch+json',
          'application/vnd.kubernetes.protobuf',
          'text/plain',
        ),
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.json({ maxDepth: 3 }),
          fc.constant('{"metadata":{"name":"fuzz"}}'),
        ),
        async (method, segments, contentType, body) => {
          const path = `/${segments.join('/')}`;
          const answer = await send(method, path, contentType, method === 'GET' ? '' : body);
          expect(answer.status, `${method} ${path}`).toBeLessThan(500);
          if (answer.status >= 400) {
            expect(JSON.parse(answer.text)).toMatchObject({ kind: 'Status', code: answer.status });
          }
        },
      ),
      { numRuns: 400 },
    );
    expect((await send('GET', '/api/v1/namespaces', 'application/json', '')).status).toBe(200);
  });
});
