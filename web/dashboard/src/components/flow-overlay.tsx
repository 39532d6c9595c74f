/**
 * Recent flows as arrows over the map: from the element holding the source to the one holding
 * the destination (pods, nodes, RDS instances, instances), green and solid when accepted, red and
 * dashed with a cross when a group rejected it. Positions are measured from the laid-out page.
 */
import type { RefObject } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import type { FlowView, Topology } from '../../../../src/core/dashboard/dashboard-model.js';

/** How long an arrow stays after its flow's last record was read. */
export const arrowLifetimeMs = 30_000;

interface Arrow {
  readonly key: string;
  readonly flow: FlowView;
  readonly path: string;
}

interface Box {
  readonly left: number;
  readonly right: number;
  readonly y: number;
}

function boxOf(container: HTMLElement, element: Element): Box {
  const box = element.getBoundingClientRect();
  const origin = container.getBoundingClientRect();
  return {
    left: box.left - origin.left,
    right: box.right - origin.left,
    y: box.top - origin.top + box.height / 2,
  };
}

/**
 * A curve from one box to the other that stays off the boxes' text: out of the right edges and
 * back when they share a column (bulging more for the nth arrow between the same rows), from the
 * facing edges otherwise.
 */
function curve(from: Box, to: Box, lane: number): string {
  const sameColumn = from.left < to.right && to.left < from.right;
  if (sameColumn) {
    const x1 = from.right;
    const x2 = to.right;
    const bulge = 18 + lane * 8 + Math.min(36, Math.abs(to.y - from.y) / 10);
    const x = Math.max(x1, x2) + bulge;
    return `M ${x1} ${from.y} C ${x} ${from.y}, ${x} ${to.y}, ${x2} ${to.y}`;
  }
  const rightward = from.right <= to.left;
  const x1 = rightward ? from.right : from.left;
  const x2 = rightward ? to.left : to.right;
  const middle = (x1 + x2) / 2;
  const offset = lane * 10;
  return `M ${x1} ${from.y} C ${middle} ${from.y + offset}, ${middle} ${to.y + offset}, ${x2} ${to.y}`;
}

function findRef(container: HTMLElement, ref: string | undefined): Element | null {
  return ref ? container.querySelector(`[data-ref="${CSS.escape(ref)}"]`) : null;
}

/** Workloads and databases get arrows; nodes' and the EKS API's own chatter stays in the table. */
function drawn(ref: string | undefined): boolean {
  return ref !== undefined && /^(pod\/|rds\/|i-)/.test(ref);
}

/** The newest flow per (source, destination, action) worth an arrow now, keyed by that triple. */
function latestDrawnFlows(
  flows: readonly FlowView[],
  now: number,
  focusRef: string | undefined,
): Map<string, FlowView> {
  const latest = new Map<string, FlowView>();
  for (const flow of flows) {
    const { source, destination } = flow;
    if (now - flow.readAt > arrowLifetimeMs || !drawn(source.ref) || !drawn(destination.ref)) {
      continue;
    }
    if (focusRef && source.ref !== focusRef && destination.ref !== focusRef) continue;
    const key = `${source.ref ?? ''}>${destination.ref ?? ''}:${flow.action}`;
    if (!latest.has(key)) latest.set(key, flow);
  }
  return latest;
}

export function FlowOverlay(props: {
  container: RefObject<HTMLDivElement | null>;
  flows: readonly FlowView[];
  topology: Topology;
  /** A chosen pod: only its flows are drawn. */
  focusRef: string | undefined;
}) {
  const [arrows, setArrows] = useState<readonly Arrow[]>([]);
  const [now, setNow] = useState(Date.now());
  const [size, setSize] = useState({ width: 0, height: 0 });

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    const element = props.container.current;
    const observer = new ResizeObserver(() => {
      if (element) setSize({ width: element.scrollWidth, height: element.scrollHeight });
    });
    if (element) observer.observe(element);
    return () => {
      clearInterval(timer);
      observer.disconnect();
    };
  }, [props.container]);

  useLayoutEffect(() => {
    const container = props.container.current;
    if (!container) return;
    const latest = latestDrawnFlows(props.flows, now, props.focusRef);
    const next: Arrow[] = [];
    const lanes = new Map<Element, number>();
    for (const [key, flow] of latest) {
      const from = findRef(container, flow.source.ref);
      const to = findRef(container, flow.destination.ref);
      if (!from || !to || from === to) continue;
      // Arrows into the same element get their own lane each, so they do not overlap.
      const lane = lanes.get(to) ?? 0;
      lanes.set(to, lane + 1);
      next.push({ key, flow, path: curve(boxOf(container, from), boxOf(container, to), lane) });
    }
    setArrows(next);
  }, [props.flows, props.topology, props.container, props.focusRef, now, size]);

  return (
    <svg
      class="flow-overlay"
      width={size.width}
      height={size.height}
      aria-hidden="true"
      data-testid="flow-overlay"
    >
      <defs>
        <marker
          id="arrow-accept"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head accept" />
        </marker>
        <marker
          id="arrow-reject"
          viewBox="0 0 10 10"
          refX="5"
          refY="5"
          markerWidth="9"
          markerHeight="9"
          orient="auto"
        >
          <path d="M 1 1 L 9 9 M 9 1 L 1 9" class="arrow-head reject" />
        </marker>
      </defs>
      {arrows.map((arrow) => (
        <path
          key={arrow.key}
          class={`flow-line ${arrow.flow.action.toLowerCase()}`}
          data-sequence={String(arrow.flow.sequence)}
          data-source={arrow.flow.source.ref ?? arrow.flow.source.address}
          data-destination={arrow.flow.destination.ref ?? arrow.flow.destination.address}
          data-action={arrow.flow.action}
          d={arrow.path}
          opacity={1 - (0.6 * Math.min(now - arrow.flow.readAt, arrowLifetimeMs)) / arrowLifetimeMs}
          marker-end={`url(#arrow-${arrow.flow.action === 'ACCEPT' ? 'accept' : 'reject'})`}
        />
      ))}
    </svg>
  );
}
