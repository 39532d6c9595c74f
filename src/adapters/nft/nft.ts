/**
 * nftables inside a namespace: apply a script as one atomic transaction (`nft -f -`) and read
 * objects back as JSON (`nft -j`, numeric with `-n` where values are compared).
 */
import { CommandError } from '../../core/errors.js';
import { runCommand } from '../exec/run-command.js';

export async function applyNftScript(namespace: string, script: string): Promise<void> {
  if (script.trim() === '') return;
  await runCommand(['ip', 'netns', 'exec', namespace, 'nft', '-f', '-'], {
    input: script,
    timeoutMs: 120_000,
  });
}

/** `nft -j <args>` in a namespace, parsed; `undefined` when the object does not exist. */
async function nftJson(namespace: string, args: readonly string[]): Promise<unknown> {
  try {
    const { stdout } = await runCommand(['ip', 'netns', 'exec', namespace, 'nft', '-j', ...args]);
    return JSON.parse(stdout) as unknown;
  } catch (error) {
    if (error instanceof CommandError && /No such file or directory/.test(error.stderr))
      return undefined;
    throw error;
  }
}

type Listing = { nftables?: Record<string, unknown>[] } | undefined;

/** The table's numeric JSON listing, or undefined when the table does not exist. */
export function listNftTable(namespace: string, table: string): Promise<unknown> {
  return nftJson(namespace, ['-n', 'list', 'table', 'inet', table]);
}

/** Packet and byte counts of the table's named counters. */
export async function readNftCounters(
  namespace: string,
  table: string,
): Promise<Map<string, { packets: number; bytes: number }>> {
  const listing = (await nftJson(namespace, [
    'list',
    'counters',
    'table',
    'inet',
    table,
  ])) as Listing;
  const counters = new Map<string, { packets: number; bytes: number }>();
  for (const item of listing?.nftables ?? []) {
    const counter = item.counter as { name?: string; packets?: number; bytes?: number } | undefined;
    if (counter?.name)
      counters.set(counter.name, { packets: counter.packets ?? 0, bytes: counter.bytes ?? 0 });
  }
  return counters;
}

/** Per-element packet counts of a dynamic set with counters (key: the element's value). */
export async function readNftSetCounters(
  namespace: string,
  table: string,
  set: string,
): Promise<Map<string, number>> {
  const listing = (await nftJson(namespace, ['list', 'set', 'inet', table, set])) as Listing;
  type Element = { elem?: { val?: unknown; counter?: { packets?: number } } };
  const counts = new Map<string, number>();
  for (const item of listing?.nftables ?? []) {
    for (const element of (item.set as { elem?: Element[] } | undefined)?.elem ?? []) {
      const key = element.elem?.val;
      if (typeof key === 'string') counts.set(key, element.elem?.counter?.packets ?? 0);
    }
  }
  return counts;
}
