/**
 * The seed scenario on real packets: the workshop's groups (read from the describe-* example),
 * a real PostgreSQL behind RDS_SG, green on a branch ENI carrying POD_SG, red leaving through the
 * node's ENI (a secondary IP, the node group's SG). Green reads the table; red times out — with
 * psql, and with the workshop app itself (images/workshop-app.py, libpq through psycopg2).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { addNamespace, ipBatch } from '../../src/adapters/netns/netns.js';
import {
  readNetworkInterfaces,
  readSecurityGroups,
} from '../../src/adapters/ec2/describe-output.js';
import { CommandError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/net/ip-address.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { PostgresServer } from '../support/postgres-server.js';
import { repoRoot } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

const rdsAddress = '192.168.130.50';
const password = 'eksworkshop-pass';

function readExample(file: string): unknown {
  return JSON.parse(readFileSync(join(repoRoot, 'examples/workshop', file), 'utf8'));
}

function cidr(text: string) {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(text);
  return parsed.cidr;
}

async function psql(namespace: string): Promise<{ ok: boolean; output: string }> {
  const conninfo = `host=${rdsAddress} dbname=eksworkshop user=eksworkshop password=${password} connect_timeout=3`;
  try {
    const { stdout } = await runCommand(
      [
        'ip',
        'netns',
        'exec',
        namespace,
        'psql',
        '-X',
        '-A',
        '-t',
        conninfo,
        '-c',
        'select * from welcome',
      ],
      { timeoutMs: 60_000 },
    );
    return { ok: true, output: stdout };
  } catch (error) {
    if (error instanceof CommandError) return { ok: false, output: error.stderr };
    throw error;
  }
}

describe.skipIf(!isRoot)('the seed scenario: green reaches RDS, red times out', () => {
  let home: TestHome;
  let router: VpcRouter | undefined;
  let postgres: PostgresServer | undefined;
  const ns = (suffix: string) => `${home.prefix}${suffix}`;

  beforeAll(async () => {
    home = createTestHome();
    router = await VpcRouter.open({ prefix: home.prefix, namespace: ns('r') });
    router.setGroups(
      readSecurityGroups(readExample('security-groups.json'), 'security-groups.json'),
    );
    const enis = new Map(
      readNetworkInterfaces(readExample('network-interfaces.json'), 'network-interfaces.json').map(
        (eni) => [eni.networkInterfaceId, eni],
      ),
    );
    const attach = async (eniId: string, namespace: string, subnet: string) => {
      const eni = enis.get(eniId);
      if (!eni) throw new Error(eniId);
      await addNamespace(namespace);
      await router?.attachInterface({
        networkInterfaceId: eniId,
        hostNamespace: namespace,
        hostInterface: 'eth0',
        addresses: eni.addresses,
        subnet: cidr(subnet),
        groupIds: eni.groupIds,
      });
    };
    await attach('eni-0d44e55f66a77b884', ns('db'), '192.168.128.0/19');
    await attach('eni-0a11b22c33d44e551', ns('node'), '192.168.96.0/19');
    await attach('eni-0c33d44e55f66a773', ns('green'), '192.168.96.0/19');
    // The red pod's traffic leaves the node through eth0 from its own (secondary) address.
    await ipBatch(ns('node'), [
      `route replace ${rdsAddress}/32 via 192.168.96.1 dev eth0 src 192.168.100.21`,
    ]);

    postgres = new PostgresServer(ns('db'), join(home.home, 'rds'), rdsAddress);
    await postgres.start(password);
    await postgres.sql(`create user eksworkshop with password '${password}'`);
    await postgres.sql('create database eksworkshop owner eksworkshop');
    // The workshop's table, as its instructions create it.
    await postgres.sql(
      "create table welcome (column1 text); insert into welcome values ('--------------------------'); insert into welcome values ('Welcome to the eksworkshop'); insert into welcome values ('--------------------------'); alter table welcome owner to eksworkshop;",
      'eksworkshop',
    );
  });

  afterAll(async () => {
    await postgres?.stop();
    await router?.destroy();
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  it('green (branch ENI, POD_SG) reads the welcome table', async () => {
    const result = await psql(ns('green'));
    expect(result.output.split('\n')).toContain('Welcome to the eksworkshop');
    expect(result.ok).toBe(true);
  });

  it('red (node ENI, node group SG) gets "timeout expired"', async () => {
    const result = await psql(ns('node'));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/timeout expired/);
    const drops = await router?.dropCounters();
    expect(drops?.byInterface.get('eni-0d44e55f66a77b884')?.ingress).toBeGreaterThan(0);
  });

  it('runs the workshop app (fmedery/app:latest): green prints the rows, red the timeout', async () => {
    expect(await workshopAppFirstLine(ns('green'))).toBe(
      "[('--------------------------',), ('Welcome to the eksworkshop',), ('--------------------------',)]",
    );
    expect(await workshopAppFirstLine(ns('node'))).toBe(
      'Database connection failed due to timeout expired',
    );
  });
});

/** The first line the workshop app prints in a namespace (then it is stopped). */
function workshopAppFirstLine(namespace: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const app = spawn(
      'ip',
      ['netns', 'exec', namespace, '/usr/bin/python3', join(repoRoot, 'images/workshop-app.py')],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOST: rdsAddress,
          DBNAME: 'eksworkshop',
          USER: 'eksworkshop',
          PASSWORD: password,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let errors = '';
    const deadline = setTimeout(() => {
      app.kill('SIGKILL');
      reject(new Error(`the workshop app printed nothing in 30 s: ${errors}`));
    }, 30_000);
    app.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    app.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const newline = output.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(deadline);
      app.kill('SIGKILL');
      resolve(output.slice(0, newline));
    });
  });
}
