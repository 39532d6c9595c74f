/** The bundled image catalogue: the workshop app and shells resolve; unknown images do not. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCatalogue } from '../../src/adapters/images/image-catalogue.js';

describe('the image catalogue', () => {
  it('runs the workshop app for fmedery/app:latest, a shell for busybox, nothing for unknowns', () => {
    const catalogue = ImageCatalogue.load();
    const app = catalogue.resolve('fmedery/app:latest')?.cmd;
    expect(app?.[0]).toBe('/usr/bin/python3');
    expect(app?.[1]).toMatch(/images\/workshop-app\.py$/);
    expect(existsSync(app?.[1] ?? '')).toBe(true);
    expect(catalogue.resolve('fmedery/app')).toEqual(catalogue.resolve('fmedery/app:latest'));
    expect(catalogue.resolve('busybox:1.36')).toEqual({ entrypoint: [], cmd: ['/bin/sh'] });
    expect(catalogue.resolve('nginx:1.25')).toBeUndefined();
  });

  it('names the file and the entry when a catalogue is malformed', () => {
    const folder = mkdtempSync(join(tmpdir(), 'sgpods-catalogue-'));
    try {
      const path = join(folder, 'catalogue.yaml');
      writeFileSync(path, 'images:\n  x:latest:\n    cmd: sh\n');
      expect(() => ImageCatalogue.load(path)).toThrow(
        `${path}: image x:latest needs an entrypoint or a cmd`,
      );
      writeFileSync(path, '- not a mapping\n');
      expect(() => ImageCatalogue.load(path)).toThrow('expected an "images" mapping');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
