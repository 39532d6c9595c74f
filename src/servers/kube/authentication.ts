/**
 * Static token authentication, as `--token-auth-file`: `token,user,uid,"group1,group2"` lines
 * in `<home>/kube-tokens.csv`; the first line is the admin (system:masters), made on first start.
 * (ServiceAccount tokens: service-account-tokens.ts.) The user a token names reaches admission
 * as `userInfo`; anything else is 401.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { KubeStatusError } from '../../core/errors.js';

export interface UserInfo {
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
}

export function readTokens(path: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([^,]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?$/.exec(line.trim());
    if (!match?.[1] || !match[2]) continue;
    tokens.set(match[1], {
      username: match[2],
      uid: match[3] ?? '',
      groups: [...(match[4] ?? '').split(',').filter(Boolean), 'system:authenticated'],
    });
  }
  return tokens;
}

/** The home's token file, with an admin token made on first start. */
export function ensureTokens(home: string): { path: string; adminToken: string } {
  const path = join(home, 'kube-tokens.csv');
  if (!existsSync(path)) {
    const token = randomBytes(32).toString('base64url');
    writeFileSync(path, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  }
  const first = readFileSync(path, 'utf8').split('\n')[0] ?? '';
  return { path, adminToken: first.split(',')[0] ?? '' };
}

/** The bearer token of a request, if any. */
export function bearerTokenOf(request: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
}

/** The user a static token names (compared in constant time), if any. */
export function staticTokenUser(
  token: string,
  tokens: ReadonlyMap<string, UserInfo>,
): UserInfo | undefined {
  const presented = Buffer.from(token);
  for (const [known, user] of tokens) {
    const expected = Buffer.from(known);
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) {
      return user;
    }
  }
  return undefined;
}

export function unauthorized(): KubeStatusError {
  return new KubeStatusError('Unauthorized', 401, 'Unauthorized');
}
