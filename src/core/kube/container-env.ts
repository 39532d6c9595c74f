/**
 * What a container runs with, as the kubelet computes it: the argv from the image's entrypoint
 * and the container's `command` / `args` (with `$(VAR)` expansion), and the environment from
 * `envFrom` and `env` (`value`, `secretKeyRef`, `configMapKeyRef`, `fieldRef`). A missing
 * Secret, ConfigMap or key that is not optional is a `CreateContainerConfigError` worded as the
 * kubelet words it.
 */
type Json = Record<string, unknown>;

export interface EnvSources {
  /** A Secret's decoded data, or undefined when it does not exist. */
  secret(name: string): Readonly<Record<string, string>> | undefined;
  configMap(name: string): Readonly<Record<string, string>> | undefined;
}

export type EnvResult =
  | { readonly ok: true; readonly env: Record<string, string> }
  | { readonly ok: false; readonly message: string };

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** `$(NAME)` → its value when defined, `$$` → `$`; anything else is left as written. */
export function expandReferences(input: string, env: Readonly<Record<string, string>>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === '$$') return '$';
    return name !== undefined && Object.hasOwn(env, name) ? (env[name] ?? '') : match;
  });
}

/**
 * The argv: `command` replaces the image's entrypoint (and drops its cmd), `args` replace its
 * cmd — the rules Kubernetes documents for command and args.
 */
export function containerArgv(
  container: Json,
  image: { readonly entrypoint: readonly string[]; readonly cmd: readonly string[] },
  env: Readonly<Record<string, string>>,
): string[] {
  const command = Array.isArray(container.command) ? container.command.map(text) : undefined;
  const args = Array.isArray(container.args) ? container.args.map(text) : undefined;
  const argv = command
    ? [...command, ...(args ?? [])]
    : [...image.entrypoint, ...(args ?? image.cmd)];
  return argv.map((part) => expandReferences(part, env));
}

/** `metadata.labels['app']`, `status.podIP`, …: a downward-API field of the pod. */
export function podFieldValue(pod: Json, path: string): string | undefined {
  const metadata = (pod.metadata ?? {}) as Json;
  const spec = (pod.spec ?? {}) as Json;
  const status = (pod.status ?? {}) as Json;
  const mapMatch = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (mapMatch)
    return ((metadata[mapMatch[1] ?? ''] ?? {}) as Record<string, string>)[mapMatch[2] ?? ''] ?? '';
  const fields: Record<string, unknown> = {
    'metadata.name': metadata.name,
    'metadata.namespace': metadata.namespace,
    'metadata.uid': metadata.uid,
    'spec.nodeName': spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName ?? 'default',
    'status.hostIP': status.hostIP,
    'status.podIP': status.podIP,
    'status.hostIPs': ((status.hostIPs ?? []) as Json[]).map((ip) => text(ip.ip)).join(','),
    'status.podIPs': ((status.podIPs ?? []) as Json[]).map((ip) => text(ip.ip)).join(','),
  };
  return Object.hasOwn(fields, path) ? text(fields[path]) : undefined;
}

function keyFrom(
  kind: 'Secret' | 'ConfigMap',
  reference: Json,
  namespace: string,
  sources: EnvSources,
): { value?: string; error?: string } {
  const name = text(reference.name);
  const key = text(reference.key);
  const data = kind === 'Secret' ? sources.secret(name) : sources.configMap(name);
  const optional = reference.optional === true;
  if (!data) {
    return optional
      ? {}
      : { error: `${kind === 'Secret' ? 'secret' : 'configmap'} "${name}" not found` };
  }
  if (!Object.hasOwn(data, key)) {
    return optional ? {} : { error: `couldn't find key ${key} in ${kind} ${namespace}/${name}` };
  }
  return { value: data[key] ?? '' };
}

function fromEnvFrom(
  container: Json,
  sources: EnvSources,
  env: Record<string, string>,
): string | undefined {
  for (const source of (container.envFrom ?? []) as Json[]) {
    const prefix = text(source.prefix);
    const secretRef = source.secretRef as Json | undefined;
    const configMapRef = source.configMapRef as Json | undefined;
    const reference = secretRef ?? configMapRef;
    if (!reference) continue;
    const name = text(reference.name);
    const data = secretRef ? sources.secret(name) : sources.configMap(name);
    if (!data) {
      if (reference.optional === true) continue;
      return `${secretRef ? 'secret' : 'configmap'} "${name}" not found`;
    }
    for (const [key, value] of Object.entries(data)) env[`${prefix}${key}`] = value;
  }
  return undefined;
}

/** The container's environment (declared order; later entries see earlier ones in `$(VAR)`). */
export function containerEnvironment(
  pod: Json,
  container: Json,
  sources: EnvSources,
  base: Readonly<Record<string, string>> = {},
): EnvResult {
  const env: Record<string, string> = { ...base };
  const namespace = text((pod.metadata as Json | undefined)?.namespace);
  const failure = fromEnvFrom(container, sources, env);
  if (failure) return { ok: false, message: failure };
  for (const variable of (container.env ?? []) as Json[]) {
    const name = text(variable.name);
    const from = variable.valueFrom as Json | undefined;
    if (!from) {
      env[name] = expandReferences(text(variable.value), env);
      continue;
    }
    if (from.fieldRef) {
      env[name] = podFieldValue(pod, text((from.fieldRef as Json).fieldPath)) ?? '';
      continue;
    }
    const reference = (from.secretKeyRef ?? from.configMapKeyRef) as Json | undefined;
    if (!reference) continue;
    const found = keyFrom(
      from.secretKeyRef ? 'Secret' : 'ConfigMap',
      reference,
      namespace,
      sources,
    );
    if (found.error) return { ok: false, message: found.error };
    if (found.value !== undefined) env[name] = found.value;
  }
  return { ok: true, env };
}
