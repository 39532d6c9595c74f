/**
 * A pod's phase and conditions from its containers, as the kubelet's `getPhase` and status
 * manager compute them: Pending until every container has started once, Running while any runs
 * or will be restarted, Succeeded / Failed once all have ended for good.
 */
import { withCondition, type Condition } from './workloads.js';

export type ContainerState =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message?: string }
  | { readonly kind: 'running'; readonly startedAt: string }
  | {
      readonly kind: 'terminated';
      readonly exitCode: number;
      readonly reason: string;
      readonly startedAt: string;
      readonly finishedAt: string;
    };

export interface ContainerView {
  readonly name: string;
  readonly state: ContainerState;
  /** Has it ever run (a waiting container after a crash has). */
  readonly hasRun: boolean;
  readonly ready: boolean;
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Whether a container that ended with `exitCode` is started again. */
export function restarts(policy: RestartPolicy, exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

export function podPhaseOf(policy: RestartPolicy, containers: readonly ContainerView[]): string {
  if (containers.length === 0) return 'Pending';
  let running = 0;
  let waiting = 0;
  let failed = 0;
  for (const { state, hasRun } of containers) {
    if (state.kind === 'running') running += 1;
    else if (state.kind === 'waiting') {
      if (!hasRun) waiting += 1;
      else running += 1; // restarting after a crash: the pod still runs
    } else if (state.exitCode !== 0) failed += 1;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (policy === 'Always') return 'Running';
  if (failed > 0) return policy === 'OnFailure' ? 'Running' : 'Failed';
  return 'Succeeded';
}

/** PodReadyToStartContainers, Initialized, ContainersReady, Ready (PodScheduled is the scheduler's). */
export function podConditions(
  previous: readonly Condition[],
  sandboxReady: boolean,
  containers: readonly ContainerView[],
  phase: string,
  now: string,
): Condition[] {
  const allReady = containers.length > 0 && containers.every((container) => container.ready);
  const unready = containers.filter((container) => !container.ready).map(({ name }) => name);
  const finished = phase === 'Succeeded' || phase === 'Failed';
  const reason = finished ? 'PodCompleted' : 'ContainersNotReady';
  let conditions = [...previous];
  const set = (condition: Condition): void => {
    conditions = withCondition(conditions, condition, now, false);
  };
  set({
    type: 'PodReadyToStartContainers',
    status: sandboxReady ? 'True' : 'False',
    reason: '',
    message: '',
  });
  set({ type: 'Initialized', status: 'True', reason: finished ? 'PodCompleted' : '', message: '' });
  for (const type of ['ContainersReady', 'Ready'] as const) {
    set(
      allReady
        ? { type, status: 'True', reason: '', message: '' }
        : {
            type,
            status: 'False',
            reason,
            message: `containers with unready status: [${unready.join(' ')}]`,
          },
    );
  }
  return conditions;
}
