/**
 * What aws-node does to a node's CNI directories at start: the plugin binary into the bin dir,
 * then the network configuration (`10-aws.conflist`) into the conf dir — last, since the
 * kubelet reports the node's network ready once a configuration is there.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPluginLauncher } from '../adapters/cni/plugin-launcher.js';

const pluginMain = fileURLToPath(new URL('./cni-plugin-main.js', import.meta.url));

export const networkConfigName = '10-aws.conflist';

export interface CniSettings {
  readonly ipamSocket: string;
  /** Where the plugin records branch pods' wiring. */
  readonly stateDir: string;
  readonly enforcingMode: 'strict' | 'standard';
}

export function installCni(binDir: string, confDir: string, settings: CniSettings): void {
  installPluginLauncher(binDir, 'aws-cni', pluginMain);
  mkdirSync(confDir, { recursive: true });
  const path = join(confDir, networkConfigName);
  const config = {
    cniVersion: '1.0.0',
    name: 'aws-cni',
    disableCheck: true,
    plugins: [
      {
        name: 'aws-cni',
        type: 'aws-cni',
        mtu: '9001',
        podSGEnforcingMode: settings.enforcingMode,
        stateDir: settings.stateDir,
        ipam: { socket: settings.ipamSocket },
      },
    ],
  };
  writeFileSync(`${path}.tmp`, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}
