/**
 * The control plane's door in the VPC, run inside the control-plane interface's namespace:
 * `<api>:443` relays bytes to the API server's unix socket (TLS end to end: the API server's
 * certificate names this address and the endpoint host), `<services>:443` terminates TLS with a
 * certificate for the AWS service host names (signed by the home's CA, the same CA the cluster
 * hands pods as `ca.crt`) and relays the HTTP inside to the cloud's unix socket. The other way,
 * connections the API server makes to webhooks in the VPC arrive on a unix socket and leave
 * from here, as EKS's control plane reaches pods through its interfaces.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { rmSync } from 'node:fs';
import { relayFromSocket, relayToSocket } from '../../../adapters/relay/socket-relay.js';

export interface ControlPlaneEndpointOptions {
  readonly apiAddress: string;
  readonly servicesAddress: string;
  readonly kubeSocket: string;
  readonly cloudSocket: string;
  /** Where the API server asks for connections into the VPC (webhooks): see relayFromSocket. */
  readonly egressSocket: string;
  readonly tls: { readonly certificatePem: string; readonly keyPem: string };
  readonly port?: number;
}

export interface ControlPlaneEndpoint {
  close(): Promise<void>;
}

function listen(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function serveControlPlaneEndpoint(
  options: ControlPlaneEndpointOptions,
): Promise<ControlPlaneEndpoint> {
  const port = options.port ?? 443;
  // Relayed connections are long-lived (keep-alive, watches): closing ends them, not waits.
  const open = new Set<Socket>();
  const track = (client: Socket) => {
    open.add(client);
    client.once('close', () => open.delete(client));
  };
  const api = createServer((client) => {
    track(client);
    relayToSocket(client, options.kubeSocket);
  });
  const services = createTlsServer(
    { cert: options.tls.certificatePem, key: options.tls.keyPem },
    (client) => {
      track(client);
      relayToSocket(client, options.cloudSocket);
    },
  );
  // A client that drops mid-handshake must not take the process down.
  services.on('tlsClientError', () => undefined);
  const egress = createServer((client) => {
    track(client);
    relayFromSocket(client);
  });
  await listen(api, options.apiAddress, port);
  await listen(services, options.servicesAddress, port);
  rmSync(options.egressSocket, { force: true });
  await new Promise<void>((resolve, reject) => {
    egress.once('error', reject);
    egress.listen(options.egressSocket, () => {
      egress.off('error', reject);
      resolve();
    });
  });
  const closeServer = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  return {
    close: async () => {
      const closed = Promise.all([closeServer(api), closeServer(services), closeServer(egress)]);
      for (const client of open) client.destroy();
      await closed;
    },
  };
}
