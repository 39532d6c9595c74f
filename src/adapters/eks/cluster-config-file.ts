/**
 * Reading an eksctl `ClusterConfig` file (`-f cluster.yaml`, or `-f -` for stdin): YAML parsed
 * with the yaml library, then checked by core/eks/cluster-config.ts; every failure is an
 * InputError naming the file, as eksctl's are.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { clusterConfigFrom, type ClusterConfig } from '../../core/eks/cluster-config.js';
import { InputError } from '../../core/errors.js';

export function readClusterConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file or directory'
        : String(error);
    throw new InputError(`reading config file "${path}": open ${path}: ${reason}`);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new InputError(
      `couldn't parse config file "${path}": ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  return clusterConfigFrom(document, path);
}
