/** A pod chosen in the map: its ENI and groups, the policy judgements behind them, its flows. */
import type {
  FlowView,
  PodView,
  Topology,
} from '../../../../src/core/dashboard/dashboard-model.js';
import type { Question } from './explain-box.js';
import { FlowLines } from './flow-list.js';
import { groupName } from './group-chips.js';

export function PodDetails(props: {
  pod: PodView;
  topology: Topology;
  flows: readonly FlowView[];
  onAsk: (question: Question) => void;
}) {
  const { pod, topology } = props;
  const flows = props.flows.filter(
    (flow) => flow.source.ref === pod.ref || flow.destination.ref === pod.ref,
  );
  const source = pod.owner ?? pod.ref;
  return (
    <div class="pod-details" data-testid="pod-details" data-ref={pod.ref}>
      <h3>
        {pod.namespace}/{pod.name}
      </h3>
      <dl>
        <dt>node</dt>
        <dd>{pod.node || 'not scheduled'}</dd>
        <dt>IP</dt>
        <dd>{pod.ip || 'none yet'}</dd>
        <dt>phase</dt>
        <dd>{pod.phase}</dd>
        {pod.owner ? (
          <>
            <dt>owner</dt>
            <dd>{pod.owner}</dd>
          </>
        ) : null}
        <dt>network</dt>
        <dd>{pod.networkReason}</dd>
        <dt>groups</dt>
        <dd>
          {pod.eni && pod.eni.groupIds.length > 0 ? (
            <ul class="plain">
              {pod.eni.groupIds.map((id) => (
                <li key={id}>
                  {groupName(topology, id)} <code>{id}</code>
                </li>
              ))}
            </ul>
          ) : (
            'none'
          )}
        </dd>
      </dl>
      <h4>SecurityGroupPolicies of {pod.namespace}</h4>
      {pod.policies.length === 0 ? (
        <p>None: the pod uses its node's ENI and the node's groups.</p>
      ) : (
        <ul class="policies">
          {pod.policies.map((policy) => (
            <li key={policy.policy} class={`policy ${policy.outcome}`}>
              <strong>{policy.policy || '(policies)'}</strong>: {policy.outcome} — {policy.reason}
            </li>
          ))}
        </ul>
      )}
      {topology.databases.length > 0 ? (
        <p class="actions">
          {topology.databases.map((db) => (
            <button
              type="button"
              key={db.ref}
              onClick={() => props.onAsk({ source, target: `${db.ref}:${String(db.port)}` })}
            >
              Explain {source} → {db.ref}
            </button>
          ))}
        </p>
      ) : null}
      <h4>Recent flows</h4>
      <FlowLines flows={flows} onAsk={props.onAsk} limit={10} />
    </div>
  );
}
