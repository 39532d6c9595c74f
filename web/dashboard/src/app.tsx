import { useCallback, useMemo, useState } from 'preact/hooks';
import type { PodView } from '../../../src/core/dashboard/dashboard-model.js';
import { ExplainBox, type Question } from './components/explain-box.js';
import { FlowList } from './components/flow-list.js';
import { GroupGraph } from './components/group-graph.js';
import { PodDetails } from './components/pod-details.js';
import { VpcMap } from './components/vpc-map.js';
import { useLiveState } from './live-state.js';

export function App() {
  const { topology, flows, connection } = useLiveState();
  const [selectedRef, setSelectedRef] = useState<string | undefined>(undefined);
  const [question, setQuestion] = useState<Question | undefined>(undefined);
  const selected: PodView | undefined = useMemo(
    () => topology?.pods.find((pod) => pod.ref === selectedRef),
    [topology, selectedRef],
  );
  const ask = useCallback((next: Question) => setQuestion({ ...next, asked: Date.now() }), []);
  const select = useCallback(
    (ref: string) => setSelectedRef((current) => (current === ref ? undefined : ref)),
    [],
  );

  return (
    <>
      <header class="top">
        <h1>sgpods</h1>
        <p class="context">
          {topology ? (
            <>
              cluster <strong>{topology.cluster || '?'}</strong> ({topology.region || '?'})
              {topology.vpc ? (
                <>
                  {' '}
                  · VPC <code>{topology.vpc.id}</code> {topology.vpc.cidr}
                </>
              ) : null}
            </>
          ) : (
            'loading the sandbox…'
          )}
        </p>
        <p class={`connection ${connection}`} role="status" data-testid="connection">
          {connection === 'live'
            ? '● live'
            : connection === 'connecting'
              ? '○ connecting'
              : '○ reconnecting'}
        </p>
      </header>
      <main class="layout">
        <section class="panel map-panel" aria-labelledby="map-title">
          <h2 id="map-title">VPC, nodes and pods</h2>
          {topology ? (
            <VpcMap topology={topology} flows={flows} selectedRef={selectedRef} onSelect={select} />
          ) : (
            <p>Waiting for the sandbox…</p>
          )}
        </section>
        <aside class="side">
          <section class="panel" aria-labelledby="explain-title">
            <h2 id="explain-title">Explain</h2>
            <ExplainBox topology={topology} question={question} />
          </section>
          <section class="panel" aria-labelledby="details-title">
            <h2 id="details-title">Pod</h2>
            {selected && topology ? (
              <PodDetails pod={selected} topology={topology} flows={flows} onAsk={ask} />
            ) : (
              <p class="hint">Choose a pod in the map to see its groups, why, and its flows.</p>
            )}
          </section>
        </aside>
        <section class="panel groups-panel" aria-labelledby="groups-title">
          <h2 id="groups-title">Security groups and the references between them</h2>
          {topology ? <GroupGraph topology={topology} /> : null}
        </section>
        <section class="panel flows-panel" aria-labelledby="flows-title">
          <h2 id="flows-title">Live flows</h2>
          <FlowList flows={flows} onAsk={ask} />
        </section>
      </main>
    </>
  );
}
