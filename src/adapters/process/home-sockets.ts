/**
 * The unix sockets of a home (`<home>/run`): how its processes reach each other across network
 * namespaces without an address in them.
 */
import { join } from 'node:path';
import { runDirectory } from './pid-file.js';

/** The API server's socket (the control plane's interface in the VPC relays to it). */
export function kubeApiSocketPath(home: string): string {
  return join(runDirectory(home), 'kube-apiserver.sock');
}

/** The cloud endpoint's socket (the AWS endpoints in the VPC relay to it). */
export function cloudSocketPath(home: string): string {
  return join(runDirectory(home), 'cloud.sock');
}

/** Where the API server asks the control plane's namespace for connections into the VPC. */
export function controlPlaneEgressSocketPath(home: string): string {
  return join(runDirectory(home), 'control-plane-egress.sock');
}
