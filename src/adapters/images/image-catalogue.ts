/**
 * The image catalogue file (`images/catalogue.yaml`, users may extend it): the ENTRYPOINT and
 * CMD a container of an image runs, since images cannot be pulled here. `{images}` in a command is the
 * catalogue's folder. An image the catalogue does not list is unknown (the kubelet reports
 * ErrImagePull for it).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { catalogueEntry } from '../../core/kube/image-reference.js';

export const bundledImageCatalogue = fileURLToPath(
  new URL('../../../images/catalogue.yaml', import.meta.url),
);

export interface ImageRun {
  /** The image's ENTRYPOINT: a container's `command` replaces it. */
  readonly entrypoint: readonly string[];
  /** The image's CMD: a container's `args` (or `command`) replaces it. */
  readonly cmd: readonly string[];
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((part) => typeof part === 'string')
    ? value
    : undefined;
}

export class ImageCatalogue {
  private constructor(private readonly entries: Readonly<Record<string, ImageRun>>) {}

  /** Reads a catalogue file; a malformed one is an error naming the file. */
  static load(path = bundledImageCatalogue): ImageCatalogue {
    const parsed = parseYaml(readFileSync(path, 'utf8')) as { images?: unknown } | null;
    const images = parsed?.images;
    if (typeof images !== 'object' || images === null || Array.isArray(images)) {
      throw new Error(`${path}: expected an "images" mapping`);
    }
    const folder = dirname(path);
    const entries: Record<string, ImageRun> = {};
    for (const [image, entry] of Object.entries(images as Record<string, unknown>)) {
      const fields = (entry ?? {}) as { entrypoint?: unknown; cmd?: unknown };
      const entrypoint = fields.entrypoint === undefined ? [] : stringList(fields.entrypoint);
      const cmd = fields.cmd === undefined ? [] : stringList(fields.cmd);
      if (!entrypoint || !cmd || entrypoint.length + cmd.length === 0) {
        throw new Error(`${path}: image ${image} needs an entrypoint or a cmd (lists of strings)`);
      }
      const expand = (part: string): string => part.replaceAll('{images}', folder);
      entries[image] = { entrypoint: entrypoint.map(expand), cmd: cmd.map(expand) };
    }
    return new ImageCatalogue(entries);
  }

  /** How a container of the image runs, or undefined when the image is unknown. */
  resolve(image: string): ImageRun | undefined {
    return catalogueEntry(image, this.entries);
  }
}
