/**
 * The plugin side of the CNI spec (1.0.0, older result versions accepted): the command from
 * `CNI_COMMAND`, the network configuration on stdin, the result or a CNI error object on
 * stdout, exit 1 on error. A plugin supplies ADD, DEL and CHECK; VERSION is answered here.
 */
export const supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

export interface CniPluginHandlers<Config> {
  add(config: Config): Promise<unknown>;
  remove(config: Config): Promise<void>;
  check(config: Config): Promise<void>;
}

/** A required `CNI_*` variable (error 4, "invalid environment variables", when absent). */
export function cniEnvironment(name: string): string {
  const value = process.env[name];
  if (!value) throw new CniError(4, `required env variable ${name} missing`);
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function dispatch<Config extends { readonly cniVersion?: string }>(
  command: string,
  config: Config,
  handlers: CniPluginHandlers<Config>,
): Promise<void> {
  switch (command) {
    case 'ADD':
      process.stdout.write(JSON.stringify(await handlers.add(config)));
      return;
    case 'DEL':
      await handlers.remove(config);
      return;
    case 'CHECK':
      await handlers.check(config);
      return;
    default:
      throw new CniError(4, `unknown CNI_COMMAND "${command}"`);
  }
}

/** Runs one plugin invocation; resolves to the exit code. */
export async function runCniPlugin<Config extends { readonly cniVersion?: string }>(
  handlers: CniPluginHandlers<Config>,
): Promise<number> {
  const command = process.env.CNI_COMMAND ?? '';
  let version = '1.0.0';
  try {
    if (command === 'VERSION') {
      process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions }));
      return 0;
    }
    const config = JSON.parse((await readStdin()) || '{}') as Config;
    version = config.cniVersion ?? version;
    if (!supportedVersions.includes(version))
      throw new CniError(1, `incompatible CNI version ${version}`);
    await dispatch(command, config, handlers);
    return 0;
  } catch (error) {
    const failure =
      error instanceof CniError
        ? error
        : new CniError(999, error instanceof Error ? error.message : String(error));
    process.stdout.write(
      JSON.stringify({
        cniVersion: version,
        code: failure.code,
        msg: failure.message,
        details: failure.details,
      }),
    );
    return 1;
  }
}
