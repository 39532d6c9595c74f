/**
 * The page's live state: the topology and the flows, from the server's event stream
 * (`/api/events`). Flows are named here, against the topology the page shows, so a flow and the
 * pod it is drawn from always agree.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  addressIndex,
  flowView,
  type FlowView,
  type Topology,
} from '../../../src/core/dashboard/dashboard-model.js';
import type { FlowRecord } from '../../../src/core/flows/flow-records.js';

interface FlowMessage {
  readonly sequence: number;
  readonly readAt: number;
  readonly record: FlowRecord;
}

export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface LiveState {
  readonly topology: Topology | undefined;
  readonly flows: readonly FlowView[];
  readonly connection: Connection;
}

/** How many flows the page keeps (newest first). */
const keptFlows = 300;

export function useLiveState(): LiveState {
  const [topology, setTopology] = useState<Topology | undefined>(undefined);
  const [messages, setMessages] = useState<readonly FlowMessage[]>([]);
  const [connection, setConnection] = useState<Connection>('connecting');

  useEffect(() => {
    const events = new EventSource('./api/events');
    events.addEventListener('open', () => setConnection('live'));
    events.addEventListener('error', () => setConnection('reconnecting'));
    events.addEventListener('topology', (event) => {
      setTopology(JSON.parse((event as MessageEvent<string>).data) as Topology);
    });
    // The recent flows, sent once when the stream opens (again after a reconnect).
    events.addEventListener('flows', (event) => {
      const recent = JSON.parse((event as MessageEvent<string>).data) as FlowMessage[];
      setMessages(recent.slice(-keptFlows).reverse());
    });
    // Records come in bursts (one per ENI that saw a flow): one render per frame, not per record.
    let pending: FlowMessage[] = [];
    let frame: number | undefined;
    const flush = () => {
      frame = undefined;
      const arrived = pending.reverse();
      pending = [];
      setMessages((previous) => {
        const known = new Set(previous.map((item) => item.sequence));
        const fresh = arrived.filter((message) => !known.has(message.sequence));
        return fresh.length === 0 ? previous : [...fresh, ...previous].slice(0, keptFlows);
      });
    };
    events.addEventListener('flow', (event) => {
      pending.push(JSON.parse((event as MessageEvent<string>).data) as FlowMessage);
      frame ??= requestAnimationFrame(flush);
    });
    return () => {
      if (frame !== undefined) cancelAnimationFrame(frame);
      events.close();
    };
  }, []);

  const flows = useMemo(() => {
    if (!topology) return [];
    const index = addressIndex(topology);
    return messages.map((message) => flowView(message.record, index, message));
  }, [topology, messages]);

  return { topology, flows, connection };
}
