/** The sandbox home: `--home`, else `$SGPODS_HOME`, else /var/lib/sgpods (always absolute). */
import { resolve } from 'node:path';

export const defaultHome = '/var/lib/sgpods';

export function resolveHome(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return resolve(option ?? env.SGPODS_HOME ?? defaultHome);
}
