/**
 * The VPC as nested boxes: subnets, the nodes in them with their ENIs (primary and trunk), the
 * pods on each ENI (regular pods on the node's ENI, branch-ENI pods on the trunk), the RDS
 * instances and other instances; recent flows drawn over it as arrows between their ends.
 */
import type {
  EniView,
  FlowView,
  NodeView,
  PodView,
  Topology,
} from '../../../../src/core/dashboard/dashboard-model.js';
import { memo } from 'preact/compat';
import { useRef } from 'preact/hooks';
import { FlowOverlay } from './flow-overlay.js';
import { GroupChips } from './group-chips.js';

interface MapProps {
  readonly topology: Topology;
  readonly selectedRef: string | undefined;
  readonly onSelect: (ref: string) => void;
}

function PodButton(props: {
  pod: PodView;
  topology: Topology;
  selected: boolean;
  onSelect: (ref: string) => void;
}) {
  const { pod } = props;
  const groups = (pod.eni?.groupIds ?? [])
    .map((id) => props.topology.groups.find((group) => group.id === id)?.name ?? id)
    .join(', ');
  return (
    <button
      type="button"
      class={`pod ${pod.network} phase-${pod.phase.toLowerCase()}`}
      data-ref={pod.ref}
      aria-pressed={props.selected}
      aria-label={`pod ${pod.namespace}/${pod.name}, ${pod.phase}, ${pod.ip || 'no IP'}, ${pod.network === 'branch' ? 'branch ENI' : 'node ENI'}, groups ${groups || 'none'}`}
      onClick={() => props.onSelect(pod.ref)}
    >
      <span class="pod-name">
        {pod.namespace}/{pod.name}
      </span>
      <span class="pod-meta">
        {pod.ip || 'no IP'} · {pod.phase}
      </span>
      {pod.network === 'branch' && pod.eni ? (
        <span class="pod-meta">
          branch <code>{pod.eni.id}</code>
          {pod.eni.vlanId !== undefined ? ` · VLAN ${String(pod.eni.vlanId)}` : ''}
        </span>
      ) : null}
      {pod.network === 'branch' && pod.eni ? (
        <GroupChips groupIds={pod.eni.groupIds} topology={props.topology} />
      ) : null}
    </button>
  );
}

function EniBox(props: { eni: EniView; topology: Topology; children?: preact.ComponentChildren }) {
  const { eni } = props;
  const label = eni.kind === 'trunk' ? 'trunk ENI' : eni.kind === 'primary' ? 'node ENI' : 'ENI';
  return (
    <div class={`eni ${eni.kind}`} data-eni={eni.id}>
      <div class="eni-head">
        <span class="eni-kind">{label}</span> <code>{eni.id}</code>{' '}
        <span class="eni-address">{eni.addresses[0] ?? ''}</span>
        {eni.kind !== 'trunk' ? (
          <GroupChips groupIds={eni.groupIds} topology={props.topology} />
        ) : null}
      </div>
      {props.children ? <div class="eni-pods">{props.children}</div> : null}
    </div>
  );
}

/** An RDS instance or an instance that is not a node: a heading, a line of facts, its ENI. */
function ResourceCard(props: {
  kind: 'database' | 'instance';
  reference: string;
  label: string;
  meta: string;
  eni: EniView | undefined;
  topology: Topology;
}) {
  return (
    <article class={props.kind} data-ref={props.reference} aria-label={props.label}>
      <h4>{props.label}</h4>
      <span class="node-meta">{props.meta}</span>
      {props.eni ? <EniBox eni={props.eni} topology={props.topology} /> : null}
    </article>
  );
}

function NodeCard(props: MapProps & { node: NodeView; pods: readonly PodView[] }) {
  const { node, pods, topology } = props;
  const hostPods = pods.filter((pod) => pod.network === 'host');
  const podButton = (pod: PodView) => (
    <PodButton
      key={pod.ref}
      pod={pod}
      topology={topology}
      selected={props.selectedRef === pod.ref}
      onSelect={props.onSelect}
    />
  );
  const unplaced = pods.filter(
    (pod) =>
      pod.network === 'none' ||
      (pod.network === 'node' && !node.enis.some((eni) => eni.id === pod.eni?.id)),
  );
  return (
    <article class="node" data-ref={`node/${node.name}`} aria-label={`node ${node.name}`}>
      <header class="node-head">
        <h4>{node.name}</h4>
        <span class="node-meta">
          {node.nodeGroup} · {node.instanceType} · <code>{node.instanceId}</code>
          {node.ready ? '' : ' · NotReady'}
        </span>
      </header>
      {node.enis.map((eni) => (
        <EniBox key={eni.id} eni={eni} topology={topology}>
          {pods
            .filter((pod) =>
              eni.kind === 'trunk'
                ? pod.network === 'branch'
                : pod.network === 'node' && pod.eni?.id === eni.id,
            )
            .map(podButton)}
        </EniBox>
      ))}
      {unplaced.length > 0 ? <div class="eni-pods">{unplaced.map(podButton)}</div> : null}
      {hostPods.length > 0 ? (
        <p class="host-pods">hostNetwork: {hostPods.map((pod) => pod.name).join(', ')}</p>
      ) : null}
    </article>
  );
}

/** The map with the flows drawn over it; the boxes re-render only when the topology does. */
export function VpcMap(props: MapProps & { readonly flows: readonly FlowView[] }) {
  const container = useRef<HTMLDivElement>(null);
  return (
    <div class="vpc" ref={container}>
      <MapBoxes
        topology={props.topology}
        selectedRef={props.selectedRef}
        onSelect={props.onSelect}
      />
      <FlowOverlay
        container={container}
        flows={props.flows}
        topology={props.topology}
        focusRef={props.selectedRef}
      />
    </div>
  );
}

const MapBoxes = memo(function MapBoxes(props: MapProps) {
  const { topology } = props;
  const occupied = (subnetId: string) =>
    topology.nodes.some((node) => node.subnetId === subnetId) ||
    topology.databases.some((db) => db.subnetId === subnetId) ||
    topology.instances.some((instance) => instance.subnetId === subnetId) ||
    topology.otherEnis.some((eni) => eni.subnetId === subnetId);
  const cardsIn = (subnetId: string) =>
    Math.max(
      1,
      topology.nodes.filter((node) => node.subnetId === subnetId).length +
        topology.instances.filter((instance) => instance.subnetId === subnetId).length,
    );
  const shown = topology.subnets.filter((subnet) => occupied(subnet.id));
  const unscheduled = topology.pods.filter((pod) => pod.node === '');
  const empty = topology.subnets.filter((subnet) => !occupied(subnet.id));
  return (
    <>
      <p class="vpc-head">
        VPC <code>{topology.vpc?.id ?? '?'}</code> {topology.vpc?.cidr ?? ''} ·{' '}
        {String(topology.nodes.length)} nodes · {String(topology.pods.length)} pods
      </p>
      <div class="subnets">
        {shown.map((subnet) => (
          <section
            class="subnet"
            key={subnet.id}
            aria-label={`subnet ${subnet.id} ${subnet.cidr}`}
            // A subnet with more in it gets more of the width, so its nodes sit side by side.
            style={{
              flex: `${String(cardsIn(subnet.id))} 1 ${String(cardsIn(subnet.id) * 235)}px`,
            }}
          >
            <h3>
              {subnet.public ? 'public' : 'private'} subnet <code>{subnet.id}</code>
              <span class="subnet-meta">
                {subnet.cidr} · {subnet.availabilityZone}
              </span>
            </h3>
            <div class="subnet-content">
              {topology.nodes
                .filter((node) => node.subnetId === subnet.id)
                .map((node) => (
                  <NodeCard
                    key={node.name}
                    {...props}
                    node={node}
                    pods={topology.pods.filter((pod) => pod.node === node.name)}
                  />
                ))}
              {topology.databases
                .filter((db) => db.subnetId === subnet.id)
                .map((db) => (
                  <ResourceCard
                    key={db.ref}
                    kind="database"
                    reference={db.ref}
                    label={`RDS ${db.identifier}`}
                    meta={`${db.engine} · ${db.status} · port ${String(db.port)}`}
                    eni={db.eni}
                    topology={topology}
                  />
                ))}
              {topology.instances
                .filter((instance) => instance.subnetId === subnet.id)
                .map((instance) => (
                  <ResourceCard
                    key={instance.ref}
                    kind="instance"
                    reference={instance.ref}
                    label={instance.name}
                    meta={`${instance.instanceId} · ${instance.ip}`}
                    eni={instance.eni}
                    topology={topology}
                  />
                ))}
              {topology.otherEnis
                .filter((eni) => eni.subnetId === subnet.id)
                .map((eni) => (
                  <article
                    class="other-eni"
                    key={eni.id}
                    data-ref={eni.id}
                    aria-label={`ENI ${eni.id} ${eni.description}`}
                  >
                    <EniBox eni={eni} topology={topology} />
                    {eni.description ? <span class="node-meta">{eni.description}</span> : null}
                  </article>
                ))}
            </div>
          </section>
        ))}
      </div>
      {unscheduled.length > 0 ? (
        <section class="unscheduled" aria-label="pods not scheduled">
          <h3>Not scheduled (Pending: no node fits yet)</h3>
          <div class="eni-pods">
            {unscheduled.map((pod) => (
              <PodButton
                key={pod.ref}
                pod={pod}
                topology={topology}
                selected={props.selectedRef === pod.ref}
                onSelect={props.onSelect}
              />
            ))}
          </div>
        </section>
      ) : null}
      {empty.length > 0 ? (
        <p class="empty-subnets">
          Empty subnets: {empty.map((subnet) => `${subnet.id} ${subnet.cidr}`).join(', ')}
        </p>
      ) : null}
    </>
  );
});
