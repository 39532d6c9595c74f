/**
 * A real PostgreSQL server for tests, run as the `postgres` user (never root) inside a network
 * namespace, with its data under the test home. No systemd, no pg_ctlcluster.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { eventually } from './netns-probe.js';

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'postgres')));
  if (!version) throw new Error('PostgreSQL is not installed (scripts/setup.sh installs it)');
  return join(root, version, 'bin');
}

const asPostgres = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];

export class PostgresServer {
  #process: ChildProcess | undefined;

  constructor(
    readonly namespace: string,
    readonly directory: string,
    readonly listenAddress: string,
  ) {}

  get socketDirectory(): string {
    return join(this.directory, 'run');
  }

  async start(password: string): Promise<void> {
    const bin = postgresBinDir();
    const data = join(this.directory, 'data');
    mkdirSync(this.socketDirectory, { recursive: true, mode: 0o755 });
    const pwfile = join(this.directory, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    for (const path of [this.directory, this.socketDirectory, pwfile])
      chownSync(path, postgresUid(), postgresGid());
    await runCommand(
      [
        ...asPostgres,
        join(bin, 'initdb'),
        '-D',
        data,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwfile}`,
      ],
      { timeoutMs: 120_000 },
    );
    writeFileSync(
      join(data, 'pg_hba.conf'),
      'local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\n',
    );
    this.#process = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.namespace,
        ...asPostgres,
        join(bin, 'postgres'),
        '-D',
        data,
        '-k',
        this.socketDirectory,
        '-c',
        `listen_addresses=${this.listenAddress}`,
        '-c',
        'port=5432',
      ],
      { stdio: 'ignore' },
    );
    const ready = await eventually(
      async () => {
        try {
          await runCommand(['pg_isready', '-q', '-h', this.socketDirectory, '-p', '5432']);
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      100,
    );
    if (!ready) throw new Error('postgres did not become ready in 60 s');
  }

  /** Runs SQL as the superuser over the unix socket (which needs no network). */
  async sql(statements: string, database = 'postgres'): Promise<string> {
    const { stdout } = await runCommand([
      'psql',
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      this.socketDirectory,
      '-U',
      'postgres',
      '-d',
      database,
      '-c',
      statements,
    ]);
    return stdout;
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
}

function postgresUid(): number {
  return idOf('-u');
}

function postgresGid(): number {
  return idOf('-g');
}
