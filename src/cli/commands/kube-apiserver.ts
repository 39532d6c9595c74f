/**
 * `sgpods kube-apiserver`: the home's Kubernetes API server in the foreground (HTTPS with the
 * home's CA, `<home>/kubeconfig` with an admin token). SIGTERM or SIGINT stop it cleanly.
 */
import { rmSync } from 'node:fs';
import { writePidFile } from '../../adapters/process/pid-file.js';
import { startKubeApiServer } from '../../servers/kube/kube-api-server.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';

export async function runKubeApiServer(options: {
  home: string;
  port?: number;
}): Promise<ExitCode> {
  const server = await startKubeApiServer({
    home: options.home,
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
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
