import type { Topology } from '../../../../src/core/dashboard/dashboard-model.js';

/** The groups of an ENI, by name, with the id on hover and for screen readers. */
export function GroupChips(props: { groupIds: readonly string[]; topology: Topology }) {
  if (props.groupIds.length === 0) return <span class="chip none">no groups</span>;
  return (
    <span class="chips">
      {props.groupIds.map((id) => {
        const name = props.topology.groups.find((group) => group.id === id)?.name ?? id;
        return (
          <span class="chip" title={id} key={id} data-group={id}>
            {name}
          </span>
        );
      })}
    </span>
  );
}

export function groupName(topology: Topology, id: string): string {
  return topology.groups.find((group) => group.id === id)?.name ?? id;
}
