/**
 * The VPC's security groups as a graph laid out by dagre: a box per group (name, id, how many
 * interfaces carry it), an arrow per group reference — from the group whose members send to the
 * group whose rule admits them (or that they may send to), labelled with the traffic. Each box is
 * focusable and reads out its rules.
 */
import { Graph, layout, type EdgeLabel, type GraphLabel, type NodeLabel } from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';
import type {
  GroupView,
  RuleView,
  Topology,
} from '../../../../src/core/dashboard/dashboard-model.js';

const boxWidth = 230;
const boxHeight = 56;

function ruleText(rule: RuleView, direction: 'from' | 'to'): string {
  return `${rule.traffic} ${direction} ${rule.peer}`;
}

function members(topology: Topology): Map<string, number> {
  const counts = new Map<string, number>();
  const enis = new Map<string, readonly string[]>();
  for (const node of topology.nodes) for (const eni of node.enis) enis.set(eni.id, eni.groupIds);
  for (const pod of topology.pods) if (pod.eni) enis.set(pod.eni.id, pod.eni.groupIds);
  for (const db of topology.databases) if (db.eni) enis.set(db.eni.id, db.eni.groupIds);
  for (const instance of topology.instances)
    if (instance.eni) enis.set(instance.eni.id, instance.eni.groupIds);
  for (const groupIds of enis.values())
    for (const id of groupIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function describe(group: GroupView): string {
  const ingress = group.ingress.map((rule) => ruleText(rule, 'from')).join('; ') || 'none';
  const egress = group.egress.map((rule) => ruleText(rule, 'to')).join('; ') || 'none';
  return `${group.name} (${group.id}). Ingress: ${ingress}. Egress: ${egress}.`;
}

export function GroupGraph(props: { topology: Topology }) {
  const { topology } = props;
  const drawing = useMemo(() => {
    const graph = new Graph<GraphLabel, NodeLabel, EdgeLabel>({ multigraph: true });
    graph.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 90, marginx: 8, marginy: 8 });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const group of topology.groups)
      graph.setNode(group.id, { width: boxWidth, height: boxHeight });
    // A group admitting itself is written inside its box, not drawn as a loop.
    topology.edges.forEach((edge, index) => {
      if (edge.from === edge.to) return;
      graph.setEdge(
        edge.from,
        edge.to,
        { width: 7 * edge.traffic.length, height: 14, labelpos: 'c' },
        String(index),
      );
    });
    layout(graph);
    const size = graph.graph();
    return {
      width: Math.max(size.width ?? 0, boxWidth),
      height: Math.max(size.height ?? 0, boxHeight),
      nodes: topology.groups.map((group) => ({ group, box: graph.node(group.id) })),
      edges: topology.edges.flatMap((edge, index) =>
        edge.from === edge.to
          ? []
          : [{ edge, label: graph.edge({ v: edge.from, w: edge.to, name: String(index) }) }],
      ),
    };
  }, [topology]);
  const counts = members(topology);

  return (
    <div class="group-graph">
      <svg
        viewBox={`0 0 ${String(drawing.width)} ${String(drawing.height)}`}
        width={drawing.width}
        height={drawing.height}
        role="group"
        aria-label="security groups; arrows go from the group whose members send to the group whose rule lets them"
      >
        <defs>
          <marker
            id="reference-head"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="reference-head" />
          </marker>
        </defs>
        {drawing.edges.map(({ edge, label }) => {
          const points: { x: number; y: number }[] = label.points ?? [];
          const path = points
            .map(
              (point, index) => `${index === 0 ? 'M' : 'L'} ${String(point.x)} ${String(point.y)}`,
            )
            .join(' ');
          return (
            <g
              class={`reference ${edge.direction}`}
              key={`${edge.from}-${edge.to}-${edge.direction}`}
              data-from={edge.from}
              data-to={edge.to}
            >
              <path d={path} marker-end="url(#reference-head)" />
              {label.x !== undefined && label.y !== undefined ? (
                <text x={label.x} y={label.y + 4} text-anchor="middle" class="reference-label">
                  {edge.direction === 'egress' ? `egress ${edge.traffic}` : edge.traffic}
                </text>
              ) : null}
            </g>
          );
        })}
        {drawing.nodes.map(({ group, box }) => {
          const x = (box.x ?? 0) - boxWidth / 2;
          const y = (box.y ?? 0) - boxHeight / 2;
          const count = counts.get(group.id) ?? 0;
          const itself = topology.edges.find(
            (edge) => edge.from === group.id && edge.to === group.id,
          );
          return (
            <g
              key={group.id}
              class="group-box"
              tabIndex={0}
              role="img"
              aria-label={describe(group)}
              data-group={group.id}
              transform={`translate(${String(x)} ${String(y)})`}
            >
              <title>{describe(group)}</title>
              <rect width={boxWidth} height={boxHeight} rx="6" />
              <text x="10" y="20" class="group-name">
                {group.name.length > 29 ? `${group.name.slice(0, 28)}…` : group.name}
              </text>
              <text x="10" y="35" class="group-meta">
                {group.id} · {String(count)} ENI{count === 1 ? '' : 's'}
              </text>
              {itself ? (
                <text x="10" y="49" class="group-meta">
                  ↻ admits its own members: {itself.traffic}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
