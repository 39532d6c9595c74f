/** Small, stable, non-cryptographic hashes for names and content tags (no I/O, no randomness). */

/** FNV-1a, 32 bit. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A 53-bit content hash (cyrb53), as 14 hex digits. */
export function contentHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const value = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return value.toString(16).padStart(14, '0');
}

/**
 * Distinct 31-bit numbers for keys: each key's hash, or the next free number when two keys
 * collide. A number, once given, never moves while the allocator lives.
 */
export class StableIndices {
  readonly #indices = new Map<string, number>();
  readonly #taken = new Set<number>();

  of(key: string): number {
    const known = this.#indices.get(key);
    if (known !== undefined) return known;
    let index = fnv1a32(key) >>> 1 || 1;
    while (this.#taken.has(index)) index = (index + 1) & 0x7fffffff || 1;
    this.#taken.add(index);
    this.#indices.set(key, index);
    return index;
  }
}

/**
 * Indices for a whole key set, placed in sorted order, so the result depends only on the set
 * (a collision moves only the colliding keys).
 */
export function assignIndices(keys: Iterable<string>): Map<string, number> {
  const allocator = new StableIndices();
  return new Map([...new Set(keys)].sort().map((key) => [key, allocator.of(key)]));
}
