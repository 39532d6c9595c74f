/**
 * The informers the runtime's components share (one list+watch per resource, as client-go's
 * SharedInformerFactory): pods, nodes, ReplicaSets, Deployments, DaemonSets, cluster-wide.
 */
import { Informer } from '../../../adapters/kube/informer.js';
import type { KubeHttpClient } from '../../../adapters/kube/kube-http-client.js';

export class ClusterInformers {
  readonly pods: Informer;
  readonly nodes: Informer;
  readonly replicaSets: Informer;
  readonly deployments: Informer;
  readonly daemonSets: Informer;
  readonly services: Informer;
  readonly endpointSlices: Informer;

  constructor(client: KubeHttpClient, onError: (error: unknown) => void) {
    this.pods = new Informer(client, '/api/v1/pods', onError);
    this.nodes = new Informer(client, '/api/v1/nodes', onError);
    this.replicaSets = new Informer(client, '/apis/apps/v1/replicasets', onError);
    this.deployments = new Informer(client, '/apis/apps/v1/deployments', onError);
    this.daemonSets = new Informer(client, '/apis/apps/v1/daemonsets', onError);
    this.services = new Informer(client, '/api/v1/services', onError);
    this.endpointSlices = new Informer(client, '/apis/discovery.k8s.io/v1/endpointslices', onError);
  }

  get all(): Informer[] {
    return [
      this.pods,
      this.nodes,
      this.replicaSets,
      this.deployments,
      this.daemonSets,
      this.services,
      this.endpointSlices,
    ];
  }

  async start(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  stop(): void {
    for (const informer of this.all) informer.stop();
  }
}
