/**
 * The API server's door inside the cluster network: a process started in the router namespace
 * that accepts TCP on `<address>:<port>` and relays each connection, bytes untouched (TLS is end
 * to end), to the API server's unix socket — so pods reach it without the host namespace getting
 * an address in the cluster's ranges. Usage: api-forwarder-main.js <address> <port> <socket>.
 */
import { connect, createServer } from 'node:net';

const [address = '', port = '', socketPath = ''] = process.argv.slice(2);
const server = createServer((client) => {
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
});
server.on('error', (error) => {
  process.stderr.write(`api-forwarder: ${error.message}\n`);
  process.exit(1);
});
server.listen(Number(port), address, () => {
  process.stdout.write(`api-forwarder: ${address}:${port} → ${socketPath}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
