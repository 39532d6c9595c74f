/**
 * Live explain at EC2 quota scale: a cloud home holding 2,500 groups × 60 rules per direction
 * and 10,000 ENIs (the evaluator benchmark's world, written into the cloud's SQLite state).
 * Measures what `sgpods explain` pays per invocation to read that state into the evaluator's
 * world, and then per query — both ends resolved from ENI ids, the flow judged, the chain of
 * reasons written — beside the bare evaluation of the same flows (the baseline).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readNetworkInterfaces, readSecurityGroups } from '../src/adapters/ec2/describe-output.js';
import { evaluateFlow, type Flow } from '../src/core/sg/evaluator.js';
import type { World } from '../src/core/sg/world.js';
import { explanationText } from '../src/cli/format/explanation-text.js';
import { interfaceLabel } from '../src/cli/format/explanation-sentences.js';
import { CloudService, cloudDatabasePath } from '../src/servers/cloud/cloud-service.js';
import { Ec2Store } from '../src/servers/cloud/state/ec2-store.js';
import { worldOfStore } from '../src/servers/cloud/state/store-world.js';
import { makeDocuments } from './evaluator.bench.js';
import { percentile, SeededRandom } from './random.js';
import type { Benchmark } from './run.js';

const queryCount = 5000;

async function writeWorld(home: string): Promise<{ rules: number; interfaces: number }> {
  const random = new SeededRandom(20261127);
  const documents = makeDocuments(random);
  const groups = readSecurityGroups(documents.groups, 'groups');
  const interfaces = readNetworkInterfaces(documents.interfaces, 'interfaces');
  const service = await CloudService.open({ home, dataplane: false });
  const { store } = service;
  const { vpcId } = service.network;
  const subnetId = service.network.publicSubnetIds[0] ?? '';
  let rules = 0;
  store.transaction(() => {
    for (const group of groups) {
      store.insertGroup({
        groupId: group.groupId,
        vpcId,
        groupName: group.groupName ?? group.groupId,
        description: 'bench',
        ownerId: '123456789012',
      });
      for (const rule of group.rules) {
        try {
          store.insertRule(rule, `sgr-${(rules + 1).toString(16).padStart(17, '0')}`);
          rules += 1;
        } catch {
          // The random world repeats a rule now and then; EC2 would refuse it as a duplicate.
        }
      }
    }
    interfaces.forEach((eni, index) => {
      store.compute.insertNetworkInterface({
        networkInterfaceId: eni.networkInterfaceId,
        subnetId,
        vpcId,
        availabilityZone: 'us-west-2a',
        description: '',
        interfaceType: 'interface',
        macAddress: `02:00:${[index >> 16, index >> 8, index]
          .map((byte) => (byte & 255).toString(16).padStart(2, '0'))
          .join(':')}:00`,
        sourceDestCheck: true,
        requesterManaged: false,
        ownerId: '123456789012',
      });
      eni.addresses.forEach((address, position) => {
        store.compute.addAddress(vpcId, eni.networkInterfaceId, address.text, position === 0);
      });
      store.compute.setGroups(eni.networkInterfaceId, eni.groupIds);
    });
  });
  await service.close();
  return { rules, interfaces: interfaces.length };
}

function loadWorld(home: string): World {
  const database = new Database(cloudDatabasePath(home), { readonly: true, fileMustExist: true });
  try {
    return worldOfStore(new Ec2Store(database));
  } finally {
    database.close();
  }
}

/** What the live form does per query once the world is read. */
function liveQuery(world: World, sourceEni: string, targetEni: string, port: number): string {
  const source = world.interfaceById(sourceEni);
  const target = world.interfaceById(targetEni);
  const from = source?.addresses[0];
  const to = target?.addresses[0];
  if (!source || !target || !from || !to) throw new Error('unknown ENI');
  const flow: Flow = { source: from, destination: to, protocol: 6, port };
  const evaluation = evaluateFlow(world, flow);
  const ends = [source, target].map((eni) => interfaceLabel(world, eni));
  return `${ends.join('\n')}\n${explanationText(world, evaluation)}`;
}

export const explainLiveBenchmark: Benchmark = {
  name: 'explain-live',
  async run() {
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-explain-'));
    try {
      const written = await writeWorld(home);
      const loads: number[] = [];
      let world: World | undefined;
      for (let round = 0; round < 3; round++) {
        const started = performance.now();
        world = loadWorld(home);
        loads.push(performance.now() - started);
      }
      if (!world) throw new Error('no world');
      const random = new SeededRandom(7);
      const id = (n: number) => `eni-${(n + 1).toString(16).padStart(17, '0')}`;
      const pairs = Array.from({ length: queryCount }, () => ({
        source: id(random.int(written.interfaces)),
        target: id(random.int(written.interfaces)),
        port: 1000 + random.int(600),
      }));
      for (const pair of pairs.slice(0, 500)) liveQuery(world, pair.source, pair.target, pair.port);
      const live: number[] = [];
      const bare: number[] = [];
      for (const pair of pairs) {
        let started = performance.now();
        liveQuery(world, pair.source, pair.target, pair.port);
        live.push(performance.now() - started);
        const source = world.interfaceById(pair.source)?.addresses[0];
        const destination = world.interfaceById(pair.target)?.addresses[0];
        if (!source || !destination) continue;
        started = performance.now();
        evaluateFlow(world, { source, destination, protocol: 6, port: pair.port });
        bare.push(performance.now() - started);
      }
      live.sort((a, b) => a - b);
      bare.sort((a, b) => a - b);
      loads.sort((a, b) => a - b);
      return {
        explain_live_rules_count: written.rules,
        explain_live_interfaces_count: written.interfaces,
        explain_live_world_load_median_ms: loads[1] ?? Number.NaN,
        explain_live_query_p50_ms: percentile(live, 50),
        explain_live_query_p99_ms: percentile(live, 99),
        baseline_evaluate_only_p99_ms: percentile(bare, 99),
      };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
};
