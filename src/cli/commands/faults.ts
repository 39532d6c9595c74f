/**
 * `sgpods faults add|list|clear`: arms the home's cloud to fail chosen actions with chosen AWS
 * errors (or to answer late), for tests of what sits on top of the cloud. A running cloud picks
 * changes up at its next call.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import { cloudDatabasePath } from '../../servers/cloud/cloud-service.js';
import { openCloudDatabase } from '../../servers/cloud/state/cloud-database.js';
import { FaultStore, type FaultSpec } from '../../servers/cloud/state/fault-store.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';

function withFaults<T>(home: string, work: (faults: FaultStore) => T): T {
  const path = cloudDatabasePath(home);
  if (!existsSync(path)) {
    throw new InputError(`no cloud in home ${home} (start it with: sgpods cloud --home ${home})`);
  }
  const database = openCloudDatabase(path);
  try {
    return work(new FaultStore(database));
  } finally {
    database.close();
  }
}

export function runFaultsAdd(home: string, spec: FaultSpec): ExitCode {
  if (spec.errorCode === undefined && !spec.latencyMs) {
    throw new InputError('a fault needs --error CODE, --latency-ms N, or both');
  }
  const fault = withFaults(home, (faults) => faults.add(spec));
  process.stdout.write(`${JSON.stringify(fault)}\n`);
  return exitCodes.success;
}

export function runFaultsList(home: string): ExitCode {
  const list = withFaults(home, (faults) => faults.list());
  process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  return exitCodes.success;
}

export function runFaultsClear(home: string): ExitCode {
  const removed = withFaults(home, (faults) => faults.clear());
  process.stdout.write(`faults: removed ${removed}\n`);
  return exitCodes.success;
}
