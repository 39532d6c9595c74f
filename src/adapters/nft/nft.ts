/**
 * nftables inside a namespace: apply a script as one atomic transaction (`nft -f -`) and read a
 * table back as numeric JSON (`nft -n -j list table`).
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

/** The table's numeric JSON listing, or undefined when the table does not exist. */
export async function listNftTable(namespace: string, table: string): Promise<unknown> {
  try {
    const { stdout } = await runCommand([
      'ip',
      'netns',
      'exec',
      namespace,
      'nft',
      '-n',
      '-j',
      'list',
      'table',
      'inet',
      table,
    ]);
    return JSON.parse(stdout) as unknown;
  } catch (error) {
    if (error instanceof CommandError && /No such file or directory/.test(error.stderr))
      return undefined;
    throw error;
  }
}

/** Packet and byte counts of the table's named counters. */
export async function readNftCounters(
  namespace: string,
  table: string,
): Promise<Map<string, { packets: number; bytes: number }>> {
  const { stdout } = await runCommand([
    'ip',
    'netns',
    'exec',
    namespace,
    'nft',
    '-j',
    'list',
    'counters',
    'table',
    'inet',
    table,
  ]);
  const counters = new Map<string, { packets: number; bytes: number }>();
  const items =
    (
      JSON.parse(stdout) as {
        nftables?: Record<string, { name?: string; packets?: number; bytes?: number }>[];
      }
    ).nftables ?? [];
  for (const item of items) {
    const counter = item.counter;
    if (counter?.name)
      counters.set(counter.name, { packets: counter.packets ?? 0, bytes: counter.bytes ?? 0 });
  }
  return counters;
}

/** Per-element packet counts of a dynamic set with counters (element key: its first field). */
export async function readNftSetCounters(
  namespace: string,
  table: string,
  set: string,
): Promise<Map<string, number>> {
  const { stdout } = await runCommand([
    'ip',
    'netns',
    'exec',
    namespace,
    'nft',
    '-j',
    'list',
    'set',
    'inet',
    table,
    set,
  ]);
  type Element = { elem?: { val?: unknown; counter?: { packets?: number } } };
  const items =
    (JSON.parse(stdout) as { nftables?: { set?: { elem?: Element[] } }[] }).nftables ?? [];
  const counts = new Map<string, number>();
  for (const item of items) {
    for (const element of item.set?.elem ?? []) {
      const key = element.elem?.val;
      if (typeof key === 'string') counts.set(key, element.elem?.counter?.packets ?? 0);
    }
  }
  return counts;
}
