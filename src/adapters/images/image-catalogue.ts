/**
 * The image catalogue file (`images/catalogue.yaml`, users may extend it): which command a
 * container of an image runs, since images cannot be pulled here. `{images}` in a command is the
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
  /** The argv a container runs when its spec gives no `command`. */
  readonly command: readonly string[];
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
      const command = (entry as { command?: unknown } | null)?.command;
      if (!Array.isArray(command) || !command.every((part) => typeof part === 'string')) {
        throw new Error(`${path}: image ${image} needs a command (a list of strings)`);
      }
      entries[image] = {
        command: command.map((part) => part.replaceAll('{images}', folder)),
      };
    }
    return new ImageCatalogue(entries);
  }

  /** How a container of the image runs, or undefined when the image is unknown. */
  resolve(image: string): ImageRun | undefined {
    return catalogueEntry(image, this.entries);
  }
}
