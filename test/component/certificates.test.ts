/** The home's CA and serving certificates: real TLS handshakes against them with Node and curl. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  certificateHosts,
  ensureServingCertificates,
} from '../../src/adapters/tls/certificates.js';

describe('certificates of a home', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sgpods-certs-'));
  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('serves TLS that curl verifies against the CA, for names and addresses', async () => {
    const { serving } = ensureServingCertificates(directory, 'apiserver', [
      'localhost',
      '127.0.0.1',
    ]);
    expect(statSync(join(directory, 'apiserver.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(directory, 'ca.key')).mode & 0o777).toBe(0o600);
    const server = createServer({ cert: serving.certificatePem, key: serving.keyPem }, (_, res) =>
      res.end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // Asynchronously: the server answers from this very process.
      const curl = promisify(execFile);
      for (const host of ['127.0.0.1', 'localhost']) {
        const { stdout } = await curl('curl', [
          '-sS',
          '-m',
          '10',
          '--cacert',
          join(directory, 'ca.crt'),
          `https://${host}:${port}/`,
        ]);
        expect(stdout).toBe('ok');
      }
      // A name the certificate does not cover is refused.
      await expect(
        curl('curl', [
          '-sS',
          '-m',
          '10',
          '--cacert',
          join(directory, 'ca.crt'),
          '--resolve',
          `other.test:${port}:127.0.0.1`,
          `https://other.test:${port}/`,
        ]),
      ).rejects.toThrow(/SSL|certificate/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps the CA, and remakes the serving certificate only for new hosts', () => {
    const ca = readFileSync(join(directory, 'ca.crt'), 'utf8');
    const first = readFileSync(join(directory, 'apiserver.crt'), 'utf8');
    ensureServingCertificates(directory, 'apiserver', ['127.0.0.1']);
    expect(readFileSync(join(directory, 'apiserver.crt'), 'utf8')).toBe(first);
    const { serving } = ensureServingCertificates(directory, 'apiserver', [
      '127.0.0.1',
      '192.168.0.10',
    ]);
    expect(certificateHosts(serving.certificatePem)).toEqual(['127.0.0.1', '192.168.0.10']);
    expect(readFileSync(join(directory, 'ca.crt'), 'utf8')).toBe(ca);
  });
});
