/**
 * Instance-type network limits: ENIs, IPv4 per ENI, EKS max pods, trunking and branch-interface
 * capacity (what the controller advertises as `vpc.amazonaws.com/pod-eni`). Data and its sources:
 * instance-types.json beside this file.
 */
import data from './instance-types.json' with { type: 'json' };

export interface InstanceTypeLimits {
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly maxEnis: number;
  readonly ipv4PerEni: number;
  readonly eksMaxPods: number;
  readonly trunking: boolean;
  readonly branchInterfaces: number;
  readonly hypervisor: string | null;
  readonly bareMetal: boolean;
}

const limits: ReadonlyMap<string, InstanceTypeLimits> = new Map(Object.entries(data.instanceTypes));

export function instanceTypeLimits(instanceType: string): InstanceTypeLimits | undefined {
  return limits.get(instanceType);
}

export function knownInstanceTypes(): string[] {
  return [...limits.keys()];
}

/** The `vpc.amazonaws.com/pod-eni` capacity to advertise: 0 when the type cannot trunk. */
export function podEniCapacity(instanceType: string): number {
  const entry = limits.get(instanceType);
  return entry?.trunking ? entry.branchInterfaces : 0;
}
