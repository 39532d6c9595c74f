import { describe, expect, it } from 'vitest';
import { catalogueEntry, parseImageReference } from './image-reference.js';

describe('image references', () => {
  it.each([
    ['fmedery/app', { repository: 'fmedery/app', tag: 'latest' }],
    ['fmedery/app:latest', { repository: 'fmedery/app', tag: 'latest' }],
    ['docker.io/fmedery/app:v2', { repository: 'fmedery/app', tag: 'v2' }],
    ['busybox', { repository: 'busybox', tag: 'latest' }],
    ['docker.io/library/busybox:1.36', { repository: 'busybox', tag: '1.36' }],
    ['localhost:5000/team/app:1', { repository: 'localhost:5000/team/app', tag: '1' }],
    ['nginx@sha256:abc', { repository: 'nginx', tag: 'latest', digest: 'sha256:abc' }],
  ])('%s', (image, expected) => {
    expect(parseImageReference(image)).toEqual(expected);
  });

  it('refuses what is not a reference', () => {
    for (const image of ['', 'a b', 'app:']) expect(parseImageReference(image)).toBeUndefined();
  });

  it('finds the catalogue entry by exact tag, then by any tag', () => {
    const entries = { 'fmedery/app:latest': 'app', 'busybox:*': 'shell', 'sgpods/demo:1': 'one' };
    expect(catalogueEntry('docker.io/fmedery/app', entries)).toBe('app');
    expect(catalogueEntry('fmedery/app:v2', entries)).toBeUndefined();
    expect(catalogueEntry('busybox:1.36', entries)).toBe('shell');
    expect(catalogueEntry('library/busybox', entries)).toBe('shell');
    expect(catalogueEntry('sgpods/demo:1', entries)).toBe('one');
    expect(catalogueEntry('nginx', entries)).toBeUndefined();
  });
});
