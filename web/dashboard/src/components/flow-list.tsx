/** The flow-log records, newest first, named after their ends; a row can be put to explain. */
import { useState } from 'preact/hooks';
import type { FlowEnd, FlowView } from '../../../../src/core/dashboard/dashboard-model.js';
import type { Question } from './explain-box.js';

function endText(end: FlowEnd): string {
  return end.ref ? `${end.label} (${end.address})` : end.address;
}

/** The reference explain takes for a flow's end: the pod or RDS instance, else the address. */
export function explainRef(end: FlowEnd): string {
  return end.ref && !end.ref.startsWith('node/') ? end.ref : end.address;
}

export function questionOf(flow: FlowView): Question {
  const port =
    flow.protocol === 'tcp' || flow.protocol === 'udp' ? `:${String(flow.destination.port)}` : '';
  const protocol = flow.protocol === 'tcp' ? '' : `/${flow.protocol}`;
  return {
    source: explainRef(flow.source),
    target: `${explainRef(flow.destination)}${port}${protocol}`,
  };
}

export function FlowTable(props: {
  flows: readonly FlowView[];
  onAsk: (question: Question) => void;
  caption: string;
  limit?: number;
}) {
  const shown = props.flows.slice(0, props.limit ?? 60);
  if (shown.length === 0) return <p class="hint">No flows yet.</p>;
  return (
    <table class="flows">
      <caption class="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">time</th>
          <th scope="col">action</th>
          <th scope="col">source</th>
          <th scope="col">destination</th>
          <th scope="col">ENI</th>
          <th scope="col">
            <span class="visually-hidden">explain</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {shown.map((flow) => (
          <tr
            key={flow.sequence}
            class={`flow ${flow.action.toLowerCase()}`}
            data-sequence={String(flow.sequence)}
            data-source-port={String(flow.source.port)}
            data-action={flow.action}
            data-source={flow.source.ref ?? flow.source.address}
            data-destination={flow.destination.ref ?? flow.destination.address}
          >
            <td>{new Date(flow.end * 1000).toLocaleTimeString()}</td>
            <td>
              <span class={`action ${flow.action.toLowerCase()}`}>
                {flow.action === 'ACCEPT' ? '✓ ACCEPT' : '✕ REJECT'}
              </span>
            </td>
            <td>{endText(flow.source)}</td>
            <td>
              {endText(flow.destination)} {flow.protocol} {String(flow.destination.port)}
            </td>
            <td>
              <code>{flow.interfaceId}</code>
            </td>
            <td>
              <button
                type="button"
                class="small"
                aria-label={`explain ${flow.action === 'ACCEPT' ? 'accepted' : 'rejected'} flow from ${endText(flow.source)} to ${endText(flow.destination)}`}
                onClick={() => props.onAsk(questionOf(flow))}
              >
                why?
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A pod's flows, one line each, as the side panel has room for. */
export function FlowLines(props: {
  flows: readonly FlowView[];
  onAsk: (question: Question) => void;
  limit: number;
}) {
  const shown = props.flows.slice(0, props.limit);
  if (shown.length === 0) return <p class="hint">No flows yet.</p>;
  return (
    <ul class="flow-lines">
      {shown.map((flow) => (
        <li
          key={flow.sequence}
          class={`flow ${flow.action.toLowerCase()}`}
          data-sequence={String(flow.sequence)}
          data-action={flow.action}
          data-source={flow.source.ref ?? flow.source.address}
          data-destination={flow.destination.ref ?? flow.destination.address}
        >
          <span class={`action ${flow.action.toLowerCase()}`}>
            {flow.action === 'ACCEPT' ? '✓' : '✕'} {flow.action}
          </span>{' '}
          {flow.source.label} → {flow.destination.label} {flow.protocol}{' '}
          {String(flow.destination.port)} · {new Date(flow.end * 1000).toLocaleTimeString()}{' '}
          <button type="button" class="small" onClick={() => props.onAsk(questionOf(flow))}>
            why?
          </button>
        </li>
      ))}
    </ul>
  );
}

function matches(flow: FlowView, needle: string): boolean {
  return [
    flow.source.label,
    flow.source.address,
    flow.destination.label,
    flow.destination.address,
    flow.interfaceId,
  ].some((value) => value.toLowerCase().includes(needle));
}

export function FlowList(props: {
  flows: readonly FlowView[];
  onAsk: (question: Question) => void;
}) {
  const [rejectedOnly, setRejectedOnly] = useState(false);
  const [text, setText] = useState('');
  const accepted = props.flows.filter((flow) => flow.action === 'ACCEPT').length;
  const needle = text.trim().toLowerCase();
  const shown = props.flows.filter(
    (flow) => (!rejectedOnly || flow.action === 'REJECT') && (!needle || matches(flow, needle)),
  );
  return (
    <div class="flow-list">
      <p class="hint">
        VPC flow-log records as the dataplane writes them (one per ENI that saw the flow):{' '}
        {String(accepted)} accepted, {String(props.flows.length - accepted)} rejected of the last{' '}
        {String(props.flows.length)}.
      </p>
      <div class="flow-filters">
        <label class="inline">
          <input
            type="checkbox"
            checked={rejectedOnly}
            onChange={(event) => setRejectedOnly(event.currentTarget.checked)}
          />
          rejected only
        </label>
        <label class="inline">
          filter
          <input
            type="search"
            value={text}
            placeholder="pod, address or ENI"
            onInput={(event) => setText(event.currentTarget.value)}
          />
        </label>
      </div>
      <div
        class="flow-scroll"
        role="log"
        aria-live="off"
        aria-label="flow-log records, newest first"
      >
        <FlowTable flows={shown} onAsk={props.onAsk} caption="Live flows, newest first" />
      </div>
    </div>
  );
}
