/**
 * Child process for the crash test: adopts a running router, builds the next change (the plan
 * is computed, not applied), says "built" and waits to be killed with SIGKILL.
 * Argument: one JSON object { prefix, namespace, hosts: [{eniId, namespace, address, groupIds}],
 * groups: <RuleSpec world B> }.
 */
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { ip, subnet } from './router-fixture.js';
import { crashWorldGroups, type CrashChildInput } from './router-crash-world.js';

const input = JSON.parse(process.argv[2] ?? '{}') as CrashChildInput;
const router = await VpcRouter.open({ prefix: input.prefix, namespace: input.namespace });
router.setGroups(crashWorldGroups('before'));
for (const host of input.hosts) {
  router.adoptInterface({ ...host, hostInterface: 'eth0', addresses: [ip(host.address)], subnet });
}
await router.flush();
router.setGroups(crashWorldGroups('after'));
for (const host of input.hosts) router.setInterfaceGroups(host.eniId, host.groupIdsAfter);
const plan = await router.pendingPlan();
process.stdout.write(`built ${plan.split('\n').length} lines\n`);
await new Promise(() => undefined);
