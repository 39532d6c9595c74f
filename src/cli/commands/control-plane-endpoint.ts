/**
 * `sgpods control-plane-endpoint` (internal): the control plane's door in the VPC, started by the
 * cloud inside the control-plane interface's namespace. Prints `ready` once it serves; stops on
 * SIGTERM, SIGINT or EOF on stdin (the cloud is gone).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writePidFile } from '../../adapters/process/pid-file.js';
import {
  cloudSocketPath,
  controlPlaneEgressSocketPath,
  kubeApiSocketPath,
} from '../../adapters/process/home-sockets.js';
import { controlPlaneEndpointProcessName } from '../../servers/cloud/cloud-service.js';
import { serveControlPlaneEndpoint } from '../../servers/cloud/eks/control-plane-endpoint.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

export interface ControlPlaneEndpointCommandOptions {
  readonly home: string;
  readonly api: string;
  readonly services: string;
}

export async function runControlPlaneEndpoint(
  options: ControlPlaneEndpointCommandOptions,
): Promise<ExitCode> {
  const pki = join(options.home, 'pki');
  const endpoint = await serveControlPlaneEndpoint({
    apiAddress: options.api,
    servicesAddress: options.services,
    kubeSocket: kubeApiSocketPath(options.home),
    cloudSocket: cloudSocketPath(options.home),
    egressSocket: controlPlaneEgressSocketPath(options.home),
    tls: {
      certificatePem: readFileSync(join(pki, 'aws-endpoints.crt'), 'utf8'),
      keyPem: readFileSync(join(pki, 'aws-endpoints.key'), 'utf8'),
    },
  });
  const pidFile = writePidFile(options.home, controlPlaneEndpointProcessName);
  process.stdout.write('ready\n');
  await untilStopped({ stdinEof: true });
  await endpoint.close();
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
