/**
 * The extended resources of a Node's allocatable, as the kubelet's node-status setter
 * (`pkg/kubelet/nodestatus.MachineInfo`) keeps them: allocatable is built from every entry of
 * `status.capacity` (no reservation applies to extended resources; a negative quantity becomes
 * 0), and an extended resource gone from capacity is removed from allocatable. So capacity that
 * another component advertises (`vpc.amazonaws.com/pod-eni` by the VPC resource controller)
 * becomes schedulable. Native resources (cpu, memory, pods, `kubernetes.io/…`) are the kubelet's
 * own and are left alone here.
 */
import { qualifiedNameProblems } from './label-validation.js';
import { parseQuantity } from './quantity.js';

/** `status.capacity` or `status.allocatable` as read from the API (values are quantities). */
export type ResourceList = Readonly<Record<string, unknown>>;

/**
 * apimachinery's `IsExtendedResourceName`: a domain-prefixed name (`vpc.amazonaws.com/pod-eni`,
 * `nvidia.com/gpu`) outside `kubernetes.io` that is valid as a quota name (`requests.<name>`).
 * Like upstream's `IsPrefixedNativeResource` (a substring test for `kubernetes.io/`), any prefix
 * ending in `kubernetes.io` counts as native.
 */
export function isExtendedResourceName(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0 || name.slice(0, slash).endsWith('kubernetes.io')) return false;
  if (name.startsWith('requests.')) return false;
  return qualifiedNameProblems(`requests.${name}`).length === 0;
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/** What allocatable holds for a capacity quantity: the same, or 0 for a negative one. */
function allocatableText(capacity: unknown): string | undefined {
  const text = textOf(capacity);
  const amount = text === undefined ? undefined : parseQuantity(text);
  return amount !== undefined && amount < 0n ? '0' : text;
}

/** Equal quantities (`1k` and `1000` are), or equal texts when either is no quantity. */
function sameQuantity(wanted: string, current: unknown): boolean {
  const text = textOf(current);
  if (text === undefined) return false;
  const [a, b] = [parseQuantity(wanted), parseQuantity(text)];
  return a !== undefined && b !== undefined ? a === b : wanted === text;
}

/**
 * The merge patch of `status.allocatable` that brings its extended resources in line with
 * capacity (`null` removes one), or undefined when they already agree.
 */
export function extendedAllocatablePatch(
  capacity: ResourceList | undefined,
  allocatable: ResourceList | undefined,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(capacity ?? {})) {
    if (!isExtendedResourceName(name)) continue;
    const wanted = allocatableText(value);
    if (wanted !== undefined && !sameQuantity(wanted, allocatable?.[name])) patch[name] = wanted;
  }
  for (const name of Object.keys(allocatable ?? {})) {
    if (isExtendedResourceName(name) && !Object.hasOwn(capacity ?? {}, name)) patch[name] = null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
