/**
 * `sgpods kube-apiserver`: the home's Kubernetes API server in the foreground (HTTPS with the
 * home's CA, `<home>/kubeconfig` with an admin token). SIGTERM or SIGINT stop it cleanly.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  isRunning,
  readPidFile,
  runDirectory,
  writePidFile,
} from '../../adapters/process/pid-file.js';
import { bundledCrdDirectory, startKubeApiServer } from '../../servers/kube/kube-api-server.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

/** `--crds DIR` (default: the bundled EKS CRDs), or none with `--no-crds`. */
export function crdManifests(crds: string | boolean | undefined): string[] {
  if (crds === false) return [];
  const directory = typeof crds === 'string' ? crds : bundledCrdDirectory;
  return readdirSync(directory)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(directory, name));
}

export async function runKubeApiServer(options: {
  home: string;
  port?: number;
  crds?: string | boolean;
}): Promise<ExitCode> {
  // One writer per storage file: the in-memory copy of it assumes no one else writes.
  const running = readPidFile(join(runDirectory(options.home), 'kube-apiserver.pid'));
  if (running && isRunning(running)) {
    process.stderr.write(
      `kube-apiserver: already running for this home (pid ${running.pid}); stop it with sgpods down\n`,
    );
    return exitCodes.badInput;
  }
  const server = await startKubeApiServer({
    home: options.home,
    crdManifests: crdManifests(options.crds),
    ...(options.port !== undefined ? { port: options.port } : {}),
    onInternalError: (error) => {
      process.stderr.write(
        `kube-apiserver: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    },
  });
  const pidFile = writePidFile(options.home, 'kube-apiserver');
  process.stdout.write(
    `kube-apiserver: serving ${server.url}; export KUBECONFIG=${server.kubeconfigPath}\n`,
  );
  await untilStopped();
  await server.close();
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
