/**
 * ServiceAccount tokens, as the TokenRequest API mints them: a JWT (HS256, jose) naming the
 * account's namespace, name and uid, with audiences and an expiry, signed with a key kept in
 * `<home>/pki/service-account.key`. A token authenticates only while its account exists with
 * the same uid, as bound tokens do.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { kubeTimestamp } from './storage/kube-store.js';

export const tokenIssuer = 'https://kubernetes.default.svc';
const defaultAudience = 'https://kubernetes.default.svc';

export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

interface KubernetesClaims {
  readonly namespace?: string;
  readonly serviceaccount?: { readonly name?: string; readonly uid?: string };
}

export class ServiceAccountTokens {
  readonly #key: Uint8Array;

  constructor(keyPath: string) {
    if (!existsSync(keyPath)) {
      mkdirSync(dirname(keyPath), { recursive: true });
      writeFileSync(keyPath, randomBytes(32).toString('hex'), { mode: 0o600 });
    }
    this.#key = Buffer.from(readFileSync(keyPath, 'utf8').trim(), 'hex');
  }

  /** A token for the account, valid for `expirationSeconds` (TokenRequest's default: an hour). */
  async mint(
    account: ServiceAccountIdentity,
    options: { expirationSeconds?: number; audiences?: readonly string[] } = {},
  ): Promise<{ token: string; expirationTimestamp: string; audiences: string[] }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expires = issuedAt + (options.expirationSeconds ?? 3600);
    const audiences = options.audiences?.length ? [...options.audiences] : [defaultAudience];
    const token = await new SignJWT({
      'kubernetes.io': {
        namespace: account.namespace,
        serviceaccount: { name: account.name, uid: account.uid },
      },
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(tokenIssuer)
      .setSubject(`system:serviceaccount:${account.namespace}:${account.name}`)
      .setAudience(audiences)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expires)
      .sign(this.#key);
    return {
      token,
      expirationTimestamp: kubeTimestamp(new Date(expires * 1000)),
      audiences,
    };
  }

  /** The account a token names, or undefined when it is not ours, expired or malformed. */
  async verify(token: string): Promise<ServiceAccountIdentity | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: tokenIssuer,
        algorithms: ['HS256'],
      });
      const claims = payload['kubernetes.io'] as KubernetesClaims | undefined;
      const name = claims?.serviceaccount?.name;
      const uid = claims?.serviceaccount?.uid;
      if (!claims?.namespace || !name || !uid) return undefined;
      return { namespace: claims.namespace, name, uid };
    } catch {
      return undefined;
    }
  }
}
