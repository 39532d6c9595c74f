/**
 * Byte relays from a TCP (or TLS) connection to a unix socket: how a service of the host stays
 * reachable inside a network namespace without the host namespace getting an address there
 * (unix sockets work across network namespaces).
 */
import { connect, type Socket } from 'node:net';

/** Pipes two connections into each other; either side failing or closing closes both. */
function joinSockets(client: Socket, upstream: Socket): void {
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

/** Pipes `client` to a new connection to `socketPath` and back. */
export function relayToSocket(client: Socket, socketPath: string): void {
  joinSockets(client, connect(socketPath));
}

/** The first line a client of an egress relay sends: where to connect. */
export function egressPreamble(address: string, port: number): string {
  return `CONNECT ${address}:${String(port)}\n`;
}

/**
 * The other direction: a connection arriving on a unix socket names its destination in its
 * first line (`CONNECT <ipv4>:<port>`); the rest is relayed to a TCP connection made from this
 * process's network namespace. Anything else closes the connection.
 */
export function relayFromSocket(client: Socket): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(0x0a);
    if (end < 0) {
      if (buffered.length > 256) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const match = /^CONNECT (\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(
      buffered.subarray(0, end).toString('latin1'),
    );
    if (!match) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(match[2]), match[1]);
    const rest = buffered.subarray(end + 1);
    if (rest.length > 0) upstream.write(rest);
    joinSockets(client, upstream);
    client.resume();
  };
  client.on('data', onData);
  client.on('error', () => client.destroy());
}
