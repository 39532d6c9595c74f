/**
 * Container image references as Kubernetes normalises them (`fmedery/app` =
 * `fmedery/app:latest` = `docker.io/fmedery/app:latest`; `busybox` = `docker.io/library/busybox`),
 * and the lookup of a reference in the image catalogue, whose keys are `repository:tag` or
 * `repository:*` (any tag).
 */

export interface ImageReference {
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
}

const defaultRegistries = ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/'];

export function parseImageReference(image: string): ImageReference | undefined {
  const trimmed = image.trim();
  if (trimmed === '' || /\s/.test(trimmed)) return undefined;
  const [named = '', digest] = trimmed.split('@');
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const hasTag = colon > slash;
  let repository = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : 'latest';
  if (repository === '' || tag === '') return undefined;
  for (const registry of defaultRegistries) {
    if (repository.startsWith(registry)) repository = repository.slice(registry.length);
  }
  if (repository.startsWith('library/')) repository = repository.slice('library/'.length);
  return { repository, tag, ...(digest ? { digest } : {}) };
}

/** The catalogue entry for an image: `repository:tag` first, then `repository:*`. */
export function catalogueEntry<T>(
  image: string,
  entries: Readonly<Record<string, T>>,
): T | undefined {
  const reference = parseImageReference(image);
  if (!reference) return undefined;
  const keyed = new Map<string, T>();
  for (const [key, entry] of Object.entries(entries)) {
    const parsed = parseImageReference(key);
    if (parsed) keyed.set(`${parsed.repository}:${parsed.tag}`, entry);
  }
  return (
    keyed.get(`${reference.repository}:${reference.tag}`) ?? keyed.get(`${reference.repository}:*`)
  );
}

/** The fully qualified name containerd reports (`docker.io/library/busybox:latest`). */
export function qualifiedImageName(reference: ImageReference): string {
  const first = reference.repository.split('/')[0] ?? '';
  const hasRegistry =
    reference.repository.includes('/') &&
    (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasRegistry
    ? reference.repository
    : reference.repository.includes('/')
      ? `docker.io/${reference.repository}`
      : `docker.io/library/${reference.repository}`;
  return `${path}:${reference.tag}`;
}
