/**
 * Who a request comes from and whether it may proceed: bearer tokens (the home's static tokens,
 * then ServiceAccount tokens whose account still exists), impersonation (`kubectl --as`, itself
 * authorised by RBAC's `impersonate` verb), and the RBAC check of each request.
 */
import type { IncomingMessage } from 'node:http';
import { bearerTokenOf, staticTokenUser, unauthorized, type UserInfo } from './authentication.js';
import {
  Authorizer,
  forbidden,
  serviceAccountUser,
  type RequestAttributes,
} from './authorization.js';
import type { ServiceAccountTokens } from './service-account-tokens.js';
import type { KubeStore } from './storage/kube-store.js';

function headerValues(request: IncomingMessage, name: string): string[] {
  const value = request.headers[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value])
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter(Boolean);
}

export class AccessControl {
  readonly authorizer: Authorizer;

  constructor(
    private readonly store: KubeStore,
    private readonly tokens: ReadonlyMap<string, UserInfo>,
    private readonly serviceAccountTokens: ServiceAccountTokens,
  ) {
    this.authorizer = new Authorizer(store);
  }

  async authenticate(request: IncomingMessage): Promise<UserInfo> {
    const token = bearerTokenOf(request);
    if (!token) throw unauthorized();
    const user = staticTokenUser(token, this.tokens);
    if (user) return this.#impersonated(request, user);
    const account = await this.serviceAccountTokens.verify(token);
    const stored = account && this.store.get('/serviceaccounts', account.namespace, account.name);
    if (!account || stored?.metadata?.uid !== account.uid) throw unauthorized();
    return this.#impersonated(
      request,
      serviceAccountUser(account.namespace, account.name, account.uid),
    );
  }

  /** `Impersonate-User` / `Impersonate-Group`: allowed only to those RBAC lets impersonate. */
  #impersonated(request: IncomingMessage, user: UserInfo): UserInfo {
    const [username] = headerValues(request, 'impersonate-user');
    const groups = headerValues(request, 'impersonate-group');
    if (!username) return user;
    const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
    const check = (attributes: RequestAttributes) => {
      if (!this.authorizer.authorize(user, attributes).allowed) throw forbidden(user, attributes);
    };
    check(
      serviceAccount
        ? {
            kind: 'resource',
            verb: 'impersonate',
            apiGroup: '',
            resource: 'serviceaccounts',
            namespace: serviceAccount[1] ?? '',
            name: serviceAccount[2] ?? '',
          }
        : {
            kind: 'resource',
            verb: 'impersonate',
            apiGroup: '',
            resource: 'users',
            namespace: '',
            name: username,
          },
    );
    for (const group of groups) {
      check({
        kind: 'resource',
        verb: 'impersonate',
        apiGroup: '',
        resource: 'groups',
        namespace: '',
        name: group,
      });
    }
    if (serviceAccount) {
      const identity = serviceAccountUser(serviceAccount[1] ?? '', serviceAccount[2] ?? '', '');
      return { ...identity, groups: [...new Set([...identity.groups, ...groups])] };
    }
    return { username, uid: '', groups: [...new Set([...groups, 'system:authenticated'])] };
  }
}
