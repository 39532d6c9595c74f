/**
 * The local cloud behind the endpoint: one home's state (SQLite), its first-start objects, the
 * EC2 actions, fault injection, and the VPC router that enforces the committed security groups.
 * Each call runs in one transaction; the dataplane is updated only from committed state, and
 * resynced from it at start, so a crash anywhere leaves state and kernel reconcilable.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureServingCertificates } from '../../adapters/tls/certificates.js';
import { AwsServiceError, Ec2RequestError, InputError } from '../../core/errors.js';
import { kernelName, kernelPrefix } from '../../core/kernel-names.js';
import { parseCidr } from '../../core/net/ip-address.js';
import { mintResourceId, type ResourceKind } from '../../core/sg/resource-ids.js';
import type { PrefixList } from '../../core/sg/world.js';
import { ComputePlane, controlPlaneNamespaceOf } from './dataplane/compute-plane.js';
import { NamespaceProcess } from './dataplane/namespace-process.js';
import { DatabaseHosts } from './dataplane/database-hosts.js';
import { FlowLogCollector } from './dataplane/flow-log-collector.js';
import { VpcRouter } from './dataplane/vpc-router.js';
import { startVpcServicesProcess } from './link-local/vpc-services-process.js';
import { bootstrapClusterNetwork, type ClusterNetwork } from './ec2/bootstrap.js';
import { ec2Actions } from './ec2/ec2-actions.js';
import { Ec2Changes, type Ec2Context, type QueryHandler } from './ec2/ec2-context.js';
import type { RestRequest } from './cloud-endpoint.js';
import {
  awsServiceHostsOf,
  controlPlaneAddressesOf,
  ensureControlPlaneInterface,
  type ControlPlaneAddresses,
} from './eks/control-plane.js';
import { serveEks, type ClusterIdentity } from './eks/eks-api.js';
import { bootstrapClusterRoles, iamActions } from './iam/iam-actions.js';
import type { XmlValue } from './query/ec2-xml.js';
import type { QueryValue } from './query/query-xml.js';
import { rdsActions } from './rds/rds-actions.js';
import type { QueryParams } from './query/query-params.js';
import type { Credentials } from './query/sigv4.js';
import { openCloudDatabase, type CloudDatabase } from './state/cloud-database.js';
import { Ec2Store } from './state/ec2-store.js';
import { FaultStore } from './state/fault-store.js';

export const defaultRegion = 'us-west-2';
export const defaultClusterName = 'eksworkshop-eksctl';
export const accountId = '123456789012';

export interface CloudServiceOptions {
  readonly home: string;
  /** Only for the first start; a home keeps its region and cluster name. */
  readonly region?: string;
  readonly clusterName?: string;
  /** Enforce groups in the kernel (needs root). Off for tests of the API alone. */
  readonly dataplane?: boolean;
  /** Where dataplane errors are reported (they never fail an acknowledged call). */
  readonly onDataplaneError?: (error: unknown) => void;
}

export const controlPlaneEndpointProcessName = 'control-plane-endpoint';

export function cloudDatabasePath(home: string): string {
  return join(home, 'cloud.sqlite');
}

/** The router namespace of a home: where its VPC's packets are forwarded and filtered. */
export function routerNamespaceOf(home: string): string {
  return kernelName(kernelPrefix(home), 'vpc');
}

function accessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `AKIA${Array.from(randomBytes(16), (byte) => alphabet[byte % 32]).join('')}`;
}

/**
 * RDS instances run as the `postgres` user with their data under the home, so the home must be
 * searchable by others (its secrets are files of mode 0600): the home is made so, and a parent
 * that is not refuses the start — otherwise every DB would stay `creating` for ever.
 */
function makeTraversable(home: string): void {
  const mode = statSync(home).mode & 0o7777;
  if ((mode & 0o001) === 0) chmodSync(home, mode | 0o001);
  for (let directory = dirname(resolve(home)); ; directory = dirname(directory)) {
    const parentMode = statSync(directory).mode & 0o777;
    if ((parentMode & 0o001) === 0) {
      throw new InputError(
        `${directory} (mode ${parentMode.toString(8)}) is not searchable by other users, so the postgres user that runs RDS instances cannot reach ${home}; chmod o+x ${directory}, or use a home elsewhere`,
      );
    }
    if (dirname(directory) === directory) return;
  }
}

export class CloudService {
  readonly store: Ec2Store;
  readonly faults: FaultStore;
  readonly region: string;
  readonly clusterName: string;
  readonly credentials: Credentials;
  readonly network: ClusterNetwork;
  #router: VpcRouter | undefined;
  #flowLogs: FlowLogCollector | undefined;
  #compute: ComputePlane;
  #services: NamespaceProcess | undefined;
  #controlPlaneEndpoint: NamespaceProcess | undefined;
  readonly #home: string;
  readonly #onDataplaneError: (error: unknown) => void;

  private constructor(
    private readonly database: CloudDatabase,
    options: CloudServiceOptions,
  ) {
    this.store = new Ec2Store(database);
    this.faults = new FaultStore(database);
    this.#onDataplaneError = options.onDataplaneError ?? (() => undefined);
    this.#home = options.home;
    const store = this.store;
    const first = store.meta('region') === undefined;
    if (first) {
      store.transaction(() => {
        store.setMeta('region', options.region ?? defaultRegion);
        store.setMeta('clusterName', options.clusterName ?? defaultClusterName);
        store.setMeta('accessKeyId', accessKeyId());
        store.setMeta('secretAccessKey', randomBytes(30).toString('base64'));
        const context = this.#context(new Ec2Changes());
        store.setMeta(
          'network',
          JSON.stringify(bootstrapClusterNetwork(context, store.meta('clusterName') ?? '')),
        );
      });
    }
    this.region = store.meta('region') ?? defaultRegion;
    this.clusterName = store.meta('clusterName') ?? defaultClusterName;
    if (store.meta('eks') === undefined) {
      // Homes made before EKS and IAM were served get their cluster identity now.
      store.transaction(() => {
        const context = this.#context(new Ec2Changes());
        const roles = bootstrapClusterRoles(context, this.clusterName);
        const identity: ClusterIdentity = {
          createdAt: Math.floor(Date.now() / 1000),
          version: '1.32',
          platformVersion: 'eks.16',
          endpointId: randomBytes(16).toString('hex').toUpperCase(),
          ...roles,
        };
        store.setMeta('eks', JSON.stringify(identity));
      });
    }
    for (const [given, kept, what] of [
      [options.region, this.region, 'region'],
      [options.clusterName, this.clusterName, 'cluster name'],
    ] as const) {
      if (given !== undefined && given !== kept) {
        throw new InputError(
          `this home's cloud was created with ${what} ${kept}, not ${given} (use a new home, or sgpods down --purge)`,
        );
      }
    }
    this.credentials = {
      accessKeyId: store.meta('accessKeyId') ?? '',
      secretAccessKey: store.meta('secretAccessKey') ?? '',
    };
    this.network = JSON.parse(store.meta('network') ?? '{}') as ClusterNetwork;
    store.transaction(() => {
      ensureControlPlaneInterface(this.#context(new Ec2Changes()), this.clusterName, this.network);
    });
    this.#compute = this.#computePlane(options.home, undefined);
  }

  #computePlane(
    home: string,
    router: VpcRouter | undefined,
    databases?: DatabaseHosts,
  ): ComputePlane {
    return new ComputePlane({
      store: this.store,
      prefix: kernelPrefix(home),
      region: this.region,
      router,
      databases,
      onError: (error) => {
        this.#onDataplaneError(error);
      },
    });
  }

  /** Opens (creating on first start) the home's cloud; with `dataplane`, resyncs the kernel. */
  static async open(options: CloudServiceOptions): Promise<CloudService> {
    mkdirSync(options.home, { recursive: true, mode: 0o755 });
    if (options.dataplane) makeTraversable(options.home);
    const path = cloudDatabasePath(options.home);
    const database = openCloudDatabase(path);
    let service: CloudService;
    try {
      service = new CloudService(database, options);
    } catch (error) {
      database.close();
      throw error;
    }
    // The database (and its WAL, which holds recent pages) carries the home's AWS secret.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      if (existsSync(file)) chmodSync(file, 0o600);
    }
    try {
      if (options.dataplane) await service.#openDataplane(options.home);
      else await service.#compute.reconcile();
    } catch (error) {
      await service.close();
      throw error;
    }
    return service;
  }

  get router(): VpcRouter | undefined {
    return this.#router;
  }

  /** The namespace an instance runs in (whether or not the dataplane is on). */
  instanceNamespaceOf(instanceId: string): string {
    return this.#compute.namespaceOf(instanceId);
  }

  /** Waits until the kernel matches the committed state (instances, ports, groups). */
  settle(): Promise<void> {
    return this.#compute.reconcile();
  }

  async #openDataplane(home: string): Promise<void> {
    const router = await VpcRouter.open({
      prefix: kernelPrefix(home),
      namespace: routerNamespaceOf(home),
    });
    router.setPrefixLists(this.#prefixLists());
    router.setGroups(this.store.securityGroups());
    this.#router = router;
    this.#flowLogs = await FlowLogCollector.start({
      home,
      namespace: router.namespace,
      accountId,
      interfaceOfPort: (portName) => router.interfaceOfPort(portName),
      onError: (error) => {
        this.#onDataplaneError(error);
      },
    });
    const databases = new DatabaseHosts(join(home, 'rds'));
    // initdb once, ahead of the first CreateDBInstance (new DBs are copies of it).
    databases.warmUp();
    this.#compute = this.#computePlane(home, router, databases);
    // The first pass adopts the instances and ports the kernel still holds, removes the rest,
    // and its flush reads the table back and converges it to the committed state.
    await this.#compute.reconcile();
    const vpc = this.store.vpcs().find((row) => row.vpcId === this.network.vpcId);
    if (vpc) {
      this.#services = await startVpcServicesProcess({
        home,
        namespace: router.namespace,
        vpcCidr: vpc.cidrBlock,
        onError: (error) => {
          this.#onDataplaneError(error);
        },
      });
    }
    await this.#startControlPlaneEndpoint(home);
  }

  /** The control plane's addresses in the VPC (the API server's and the AWS endpoints'). */
  get controlPlane(): ControlPlaneAddresses | undefined {
    return controlPlaneAddressesOf(this.store);
  }

  async #startControlPlaneEndpoint(home: string): Promise<void> {
    const addresses = this.controlPlane;
    if (!addresses) return;
    ensureServingCertificates(join(home, 'pki'), 'aws-endpoints', awsServiceHostsOf(this.region));
    this.#controlPlaneEndpoint = await NamespaceProcess.start({
      home,
      namespace: controlPlaneNamespaceOf(kernelPrefix(home)),
      name: controlPlaneEndpointProcessName,
      args: ['control-plane-endpoint', '--api', addresses.api, '--services', addresses.services],
      onError: (error) => {
        this.#onDataplaneError(error);
      },
    });
  }

  #prefixLists(): PrefixList[] {
    return this.store.prefixLists().map((list) => ({
      prefixListId: list.prefixListId,
      cidrs: this.store
        .entriesOf(list.prefixListId)
        .map((entry) => parseCidr(entry.cidr)?.cidr)
        .filter((cidr) => cidr !== undefined),
    }));
  }

  #context(changes: Ec2Changes): Ec2Context {
    return {
      store: this.store,
      region: this.store.meta('region') ?? defaultRegion,
      accountId,
      changes,
      newId: (kind: ResourceKind) => mintResourceId(kind, randomBytes(9)),
      randomBytes: (length: number) => randomBytes(length),
      now: () => new Date().toISOString(),
    };
  }

  /** Serves one EC2 action: faults, one transaction (rolled back for DryRun), then the dataplane. */
  async ec2(action: string, params: QueryParams): Promise<Record<string, XmlValue>> {
    const handler = ec2Actions[action];
    if (!handler) {
      throw new Ec2RequestError(
        'InvalidAction',
        `The action ${action} is not valid for this web service.`,
      );
    }
    await this.#injectFault(
      action,
      (error) => new Ec2RequestError(error.code, error.message, error.httpStatus),
    );
    const changes = new Ec2Changes();
    const dryRun = params.get('DryRun') === 'true';
    const body = this.store.transaction(() => {
      const result = handler(params, this.#context(changes));
      if (dryRun) {
        throw new Ec2RequestError(
          'DryRunOperation',
          'Request would have succeeded, but DryRun flag is set.',
          412,
        );
      }
      return result;
    });
    await this.#afterCommit(changes);
    return body;
  }

  /** Serves one RDS action (query protocol); faults apply as to EC2. */
  rds(action: string, params: QueryParams): Promise<Record<string, QueryValue> | undefined> {
    return this.#query(rdsActions, action, params);
  }

  /** Serves one IAM action (query protocol). */
  iam(action: string, params: QueryParams): Promise<Record<string, QueryValue> | undefined> {
    return this.#query(iamActions, action, params);
  }

  /** Serves EKS (rest-json) for the home's cluster. */
  eks(request: RestRequest): Promise<{ status: number; body: unknown }> {
    return Promise.resolve(
      serveEks(request, {
        name: this.clusterName,
        region: this.region,
        accountId,
        network: this.network,
        identity: JSON.parse(this.store.meta('eks') ?? '{}') as ClusterIdentity,
        certificateAuthority: this.#certificateAuthority(),
      }),
    );
  }

  /** The home's CA (the cluster's), base64 as DescribeCluster gives it; empty before it exists. */
  #certificateAuthority(): string {
    const path = join(this.#home, 'pki', 'ca.crt');
    return existsSync(path) ? readFileSync(path).toString('base64') : '';
  }

  /** An armed fault of `action`: its latency first, then its error (in the service's class). */
  async #injectFault(
    action: string,
    errorOf: (error: { code: string; message: string; httpStatus: number }) => Error,
  ): Promise<void> {
    const fault = this.faults.take(action);
    if (fault && fault.latencyMs > 0) {
      await new Promise((done) => setTimeout(done, fault.latencyMs));
    }
    if (fault?.error) throw errorOf(fault.error);
  }

  async #query(
    handlers: Readonly<Record<string, QueryHandler>>,
    action: string,
    params: QueryParams,
  ): Promise<Record<string, QueryValue> | undefined> {
    const handler = handlers[action];
    if (!handler) {
      throw new AwsServiceError(
        'InvalidAction',
        `The action ${action} is not valid for this web service.`,
      );
    }
    await this.#injectFault(
      action,
      (error) => new AwsServiceError(error.code, error.message, error.httpStatus),
    );
    const changes = new Ec2Changes();
    const result = this.store.transaction(() => handler(params, this.#context(changes)));
    await this.#afterCommit(changes);
    return result;
  }

  /** What a committed call changed, brought to the kernel (live changes before answering). */
  async #afterCommit(changes: Ec2Changes): Promise<void> {
    await this.#applyToDataplane(changes);
    if (changes.compute === 'live') {
      try {
        await this.#compute.reconcile();
      } catch (error) {
        // Committed state is the truth; the next pass repairs the kernel.
        this.#onDataplaneError(error);
        this.#compute.reconcileSoon();
      }
    } else if (changes.compute === 'background') {
      this.#compute.reconcileSoon();
    }
  }

  async #applyToDataplane(changes: Ec2Changes): Promise<void> {
    const router = this.#router;
    if (!router) return;
    if (changes.groups.size + changes.removedGroups.size === 0 && !changes.prefixLists) return;
    for (const groupId of changes.removedGroups) router.removeGroup(groupId);
    if (changes.prefixLists) router.setPrefixLists(this.#prefixLists());
    for (const groupId of changes.groups) {
      const group = this.store.securityGroup(groupId);
      if (group) router.putGroup(group);
    }
    try {
      await router.flush();
    } catch (error) {
      // Committed state is the truth; the router resyncs from it at its next flush.
      this.#onDataplaneError(error);
    }
  }

  /** Stops serving: the kernel objects stay (packets keep flowing), the database closes. */
  async close(): Promise<void> {
    this.#flowLogs?.close();
    await this.#services?.stop();
    await this.#controlPlaneEndpoint?.stop();
    await this.#compute.close();
    await this.#router?.close();
    this.database.close();
  }
}
