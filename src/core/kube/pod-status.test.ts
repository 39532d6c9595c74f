import { describe, expect, it } from 'vitest';
import { podConditions, podPhaseOf, restarts, type ContainerView } from './pod-status.js';

const running: ContainerView = {
  name: 'app',
  state: { kind: 'running', startedAt: 't' },
  hasRun: true,
  ready: true,
};
const creating: ContainerView = {
  name: 'app',
  state: { kind: 'waiting', reason: 'ContainerCreating' },
  hasRun: false,
  ready: false,
};
const ended = (exitCode: number): ContainerView => ({
  name: 'app',
  state: {
    kind: 'terminated',
    exitCode,
    reason: exitCode ? 'Error' : 'Completed',
    startedAt: 't',
    finishedAt: 't',
  },
  hasRun: true,
  ready: false,
});
const backingOff: ContainerView = {
  name: 'app',
  state: { kind: 'waiting', reason: 'CrashLoopBackOff' },
  hasRun: true,
  ready: false,
};

describe('pod phase and conditions', () => {
  it('computes the phase as the kubelet does', () => {
    expect(podPhaseOf('Always', [creating])).toBe('Pending');
    expect(podPhaseOf('Always', [running])).toBe('Running');
    expect(podPhaseOf('Always', [backingOff])).toBe('Running');
    expect(podPhaseOf('Never', [ended(0)])).toBe('Succeeded');
    expect(podPhaseOf('Never', [ended(1)])).toBe('Failed');
    expect(podPhaseOf('OnFailure', [ended(1)])).toBe('Running');
    expect(podPhaseOf('OnFailure', [ended(0)])).toBe('Succeeded');
    expect(podPhaseOf('Always', [running, creating])).toBe('Pending');
    expect(restarts('OnFailure', 0)).toBe(false);
    expect(restarts('Always', 0)).toBe(true);
  });

  it('names unready containers and keeps transition times of unchanged conditions', () => {
    const first = podConditions([], true, [{ ...running, ready: false }], 'Running', 'T1');
    expect(first.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [app]',
      lastTransitionTime: 'T1',
    });
    const second = podConditions(first, true, [running], 'Running', 'T2');
    expect(second.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: 'T2',
    });
    expect(second.find((c) => c.type === 'PodReadyToStartContainers')).toMatchObject({
      lastTransitionTime: 'T1',
    });
  });
});
