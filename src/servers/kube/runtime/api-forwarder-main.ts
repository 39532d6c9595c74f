/**
 * The API server's door inside the cluster network: a process started in the router namespace
 * that accepts TCP on `<address>:<port>` and relays each connection, bytes untouched (TLS is end
 * to end), to the API server's unix socket — so pods reach it without the host namespace getting
 * an address in the cluster's ranges. Usage: api-forwarder-main.js <address> <port> <socket>.
 */
import { createServer } from 'node:net';
import { relayToSocket } from '../../../adapters/relay/socket-relay.js';

const [address = '', port = '', socketPath = ''] = process.argv.slice(2);
const server = createServer((client) => {
  relayToSocket(client, socketPath);
});
server.on('error', (error) => {
  process.stderr.write(`api-forwarder: ${error.message}\n`);
  process.exit(1);
});
server.listen(Number(port), address, () => {
  process.stdout.write(`api-forwarder: ${address}:${port} → ${socketPath}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
