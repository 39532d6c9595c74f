/**
 * Installs a CNI plugin written in TypeScript into a CNI bin dir: a small shell launcher that
 * runs this Node.js on the built entry file (or on the source under tsx, as tests run it).
 */
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `<binDir>/<name>` atomically (a plugin run meanwhile sees the old or the new one). */
export function installPluginLauncher(binDir: string, name: string, mainFile: string): string {
  mkdirSync(binDir, { recursive: true });
  const runner = existsSync(mainFile)
    ? `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(mainFile)}`
    : `exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(mainFile.replace(/\.js$/, '.ts'))}`;
  const path = join(binDir, name);
  writeFileSync(`${path}.tmp`, `#!/bin/sh\n${runner}\n`);
  chmodSync(`${path}.tmp`, 0o755);
  renameSync(`${path}.tmp`, path);
  return path;
}
