/**
 * Byte relays from a TCP (or TLS) connection to a unix socket: how a service of the host stays
 * reachable inside a network namespace without the host namespace getting an address there
 * (unix sockets work across network namespaces).
 */
import { connect, type Socket } from 'node:net';

/** Pipes `client` to a new connection to `socketPath` and back; either side closing closes both. */
export function relayToSocket(client: Socket, socketPath: string): void {
  const upstream = connect(socketPath);
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
}
