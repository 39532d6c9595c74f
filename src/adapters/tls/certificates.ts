/**
 * A home's own certificate authority and the serving certificates it signs: RSA keys made by
 * Node's crypto (fast), certificates built and signed with node-forge. Files are PEM; private
 * keys are written 0600. Existing files are reused, so clients that trust the CA keep trusting
 * it across restarts; a serving certificate is remade when it does not cover the asked hosts.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

const validityYears = 10;

export interface CertificatePair {
  readonly certificatePem: string;
  readonly keyPem: string;
}

function newKeys(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  keyPem: string;
} {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey);
  return {
    privateKey: forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
    keyPem: privateKey,
  };
}

function newCertificate(publicKey: forge.pki.PublicKey, commonName: string): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  // A positive serial: the first byte's high bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  certificate.serialNumber = serial.toString('hex');
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + validityYears * 365 * 86_400_000);
  certificate.setSubject([{ name: 'commonName', value: commonName }]);
  return certificate;
}

export function createCertificateAuthority(commonName: string): CertificatePair {
  const keys = newKeys();
  const certificate = newCertificate(keys.publicKey, commonName);
  certificate.setIssuer(certificate.subject.attributes);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  certificate.sign(keys.privateKey, forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(certificate), keyPem: keys.keyPem };
}

/** A serving certificate for `hosts` (DNS names and IP addresses), signed by `authority`. */
export function createServingCertificate(
  authority: CertificatePair,
  commonName: string,
  hosts: readonly string[],
): CertificatePair {
  const caCertificate = forge.pki.certificateFromPem(authority.certificatePem);
  const caKey = forge.pki.privateKeyFromPem(authority.keyPem);
  const keys = newKeys();
  const certificate = newCertificate(keys.publicKey, commonName);
  certificate.setIssuer(caCertificate.subject.attributes);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((host) =>
        isIP(host) ? { type: 7, ip: host } : { type: 2, value: host },
      ),
    },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caCertificate.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  certificate.sign(caKey, forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(certificate), keyPem: keys.keyPem };
}

interface AltName {
  readonly type: number;
  readonly value?: string;
  readonly ip?: string;
}

/** The DNS names and IP addresses a certificate is valid for. */
export function certificateHosts(certificatePem: string): string[] {
  const extension: unknown = forge.pki
    .certificateFromPem(certificatePem)
    .getExtension('subjectAltName');
  const names = (extension as { altNames?: AltName[] } | undefined)?.altNames ?? [];
  return names.map((name) => name.ip ?? name.value ?? '');
}

function readPair(directory: string, name: string): CertificatePair | undefined {
  const certificate = join(directory, `${name}.crt`);
  const key = join(directory, `${name}.key`);
  if (!existsSync(certificate) || !existsSync(key)) return undefined;
  return { certificatePem: readFileSync(certificate, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

function writePair(directory: string, name: string, pair: CertificatePair): void {
  mkdirSync(directory, { recursive: true, mode: 0o755 });
  writeFileSync(join(directory, `${name}.crt`), pair.certificatePem, { mode: 0o644 });
  writeFileSync(join(directory, `${name}.key`), pair.keyPem, { mode: 0o600 });
}

/** The CA of `directory` (made once) and a serving certificate `name` covering `hosts`. */
export function ensureServingCertificates(
  directory: string,
  name: string,
  hosts: readonly string[],
): { authority: CertificatePair; serving: CertificatePair } {
  let authority = readPair(directory, 'ca');
  if (!authority) {
    authority = createCertificateAuthority('sgpods-ca');
    writePair(directory, 'ca', authority);
  }
  let serving = readPair(directory, name);
  const covered = serving ? certificateHosts(serving.certificatePem) : [];
  if (!serving || hosts.some((host) => !covered.includes(host))) {
    serving = createServingCertificate(authority, name, hosts);
    writePair(directory, name, serving);
  }
  return { authority, serving };
}
