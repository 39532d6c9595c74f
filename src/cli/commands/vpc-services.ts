/**
 * `sgpods vpc-services` (internal): the VPC's metadata service and resolver, started by the cloud
 * inside the router namespace. Prints `ready` once both serve; stops on SIGTERM or SIGINT.
 */
import { rmSync } from 'node:fs';
import { writePidFile } from '../../adapters/process/pid-file.js';
import { vpcServicesProcessName } from '../../servers/cloud/link-local/vpc-services-process.js';
import { accountId, cloudDatabasePath } from '../../servers/cloud/cloud-service.js';
import { runVpcServices } from '../../servers/cloud/link-local/vpc-services.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

export async function runVpcServicesCommand(home: string): Promise<ExitCode> {
  const services = await runVpcServices({
    databasePath: cloudDatabasePath(home),
    accountId,
    onError: (error) => {
      process.stderr.write(
        `vpc-services: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    },
  });
  const pidFile = writePidFile(home, vpcServicesProcessName);
  process.stdout.write('ready\n');
  await untilStopped({ stdinEof: true });
  await services.close();
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
