/**
 * Every kernel object sgpods creates (network namespaces, links, nft tables) is named here:
 * a per-home prefix of 5 characters, derived from the home path, plus a short suffix. Names fit
 * IFNAMSIZ (15 characters), and the prefix marks ownership, so `sgpods down` and a restart's
 * sweep find exactly their own home's objects.
 */

import { fnv1a32 } from './hash.js';

export const maxKernelNameLength = 15;

/** A short, stable base-36 tag of `text` (for names derived from AWS ids, which do not fit). */
export function nameTag(text: string, length = 6): string {
  return (fnv1a32(text) % 36 ** length).toString(36).padStart(length, '0');
}

/** `s` + 4 base-36 characters, from the home's absolute path. */
export function kernelPrefix(homePath: string): string {
  const digits = (fnv1a32(homePath) % 36 ** 4).toString(36).padStart(4, '0');
  return `s${digits}`;
}

/** A kernel name: prefix + suffix, checked for length and characters. */
export function kernelName(prefix: string, suffix: string): string {
  const name = `${prefix}${suffix}`;
  if (name.length > maxKernelNameLength || !/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new RangeError(
      `kernel name "${name}" is longer than 15 characters or has bad characters`,
    );
  }
  return name;
}

/** True when `name` belongs to the home whose prefix is `prefix`. */
export function isOwnedKernelName(prefix: string, name: string): boolean {
  return name.startsWith(prefix);
}

/** The namespace of an EC2 instance of the home's cloud: prefix + `i` + a tag of its id. */
export function instanceNamespaceName(prefix: string, instanceId: string): string {
  return kernelName(prefix, `i${nameTag(instanceId, 7)}`);
}
