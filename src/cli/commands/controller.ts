/**
 * `sgpods controller`: the security-groups-for-pods controller (the resource controller's role),
 * as its Deployment runs it; flags as upstream's. Runs until SIGTERM or SIGINT.
 */
import {
  controllerSettingsFrom,
  type RawControllerFlags,
} from '../../controller/controller-settings.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

export async function runControllerCommand(flags: RawControllerFlags): Promise<ExitCode> {
  const settings = controllerSettingsFrom(flags);
  const { startController } = await import('../../controller/controller.js');
  const controller = await startController(settings);
  await untilStopped();
  await controller.close();
  controller.logger.info('stopped');
  return exitCodes.success;
}
