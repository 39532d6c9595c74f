/**
 * A PostgreSQL cluster (data directory + server) run as the `postgres` user, never root, with
 * its data under a directory of the home (CONVENTIONS.md: no systemd, no pg_ctlcluster). The
 * server is started detached inside a network namespace and found again through its
 * `postmaster.pid`, so it outlives a crash of whoever started it and is adopted afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../exec/run-command.js';

const asPostgres = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
export function postgresBinDirectory(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'postgres')));
  if (!version) throw new Error('PostgreSQL is not installed (scripts/setup.sh installs it)');
  return join(root, version, 'bin');
}

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = state.slice(state.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[0] !== 'X';
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A SQL string literal. */
export function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A SQL identifier, quoted (case kept). */
export function sqlIdentifier(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

export class PostgresCluster {
  constructor(readonly directory: string) {}

  get dataDirectory(): string {
    return join(this.directory, 'data');
  }

  get socketDirectory(): string {
    return join(this.directory, 'run');
  }

  get logFile(): string {
    return join(this.directory, 'postgres.log');
  }

  isInitialized(): boolean {
    return existsSync(join(this.dataDirectory, 'PG_VERSION'));
  }

  /**
   * Creates the data directory: a copy of `template` (an initialized cluster: much faster than
   * initdb), else initdb. Local connections are trusted (the socket lives in the home); network
   * connections need a password (scram-sha-256).
   */
  async initialize(template?: PostgresCluster): Promise<void> {
    const { uid, gid } = postgresIds();
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    chownSync(this.directory, uid, gid);
    const { exitCode } = await runCommand([...asPostgres, 'test', '-w', this.directory], {
      okExitCodes: [0, 1],
    });
    if (exitCode !== 0) {
      throw new Error(
        `the postgres user cannot reach ${this.directory}: every directory above it must be traversable (chmod o+x; sgpods homes are 0755)`,
      );
    }
    rmSync(this.dataDirectory, { recursive: true, force: true });
    if (template?.isInitialized()) {
      await runCommand(['cp', '-a', template.dataDirectory, this.dataDirectory]);
    } else {
      await runCommand(
        [
          ...asPostgres,
          join(postgresBinDirectory(), 'initdb'),
          '-D',
          this.dataDirectory,
          '-U',
          'postgres',
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--no-sync',
        ],
        { timeoutMs: 120_000 },
      );
      writeFileSync(
        join(this.dataDirectory, 'pg_hba.conf'),
        'local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n',
      );
      chownSync(join(this.dataDirectory, 'pg_hba.conf'), uid, gid);
    }
    rmSync(join(this.dataDirectory, 'postmaster.pid'), { force: true });
  }

  /** The server's pid when it runs (read from postmaster.pid). */
  runningPid(): number | undefined {
    const file = join(this.dataDirectory, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 1 && isAlive(pid) ? pid : undefined;
  }

  async #accepting(port: number): Promise<boolean> {
    const { exitCode } = await runCommand(
      ['pg_isready', '-q', '-h', this.socketDirectory, '-p', String(port)],
      { okExitCodes: [0, 1, 2, 3] },
    );
    return exitCode === 0;
  }

  /** Starts the server inside `namespace` listening on every address there, unless it runs. */
  async start(namespace: string, port: number, timeoutMs = 60_000): Promise<void> {
    if (this.runningPid() !== undefined && (await this.#accepting(port))) return;
    const { uid, gid } = postgresIds();
    mkdirSync(this.socketDirectory, { recursive: true, mode: 0o755 });
    chownSync(this.socketDirectory, uid, gid);
    const log = openSync(this.logFile, 'a');
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespace,
        ...asPostgres,
        join(postgresBinDirectory(), 'postgres'),
        '-D',
        this.dataDirectory,
        '-k',
        this.socketDirectory,
        '-c',
        'listen_addresses=*',
        '-c',
        `port=${port}`,
      ],
      { stdio: ['ignore', log, log], detached: true },
    );
    closeSync(log);
    child.unref();
    const ready = await until(() => this.#accepting(port), timeoutMs);
    if (!ready)
      throw new Error(`PostgreSQL in ${this.directory} did not start; see ${this.logFile}`);
  }

  /** Fast shutdown (SIGINT), then SIGKILL if it does not stop in time. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const pid = this.runningPid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGINT');
    if (!(await until(() => !isAlive(pid), timeoutMs))) {
      process.kill(pid, 'SIGKILL');
      await until(() => !isAlive(pid), 5000);
    }
  }

  /** Runs SQL as the superuser over the unix socket; the SQL goes through stdin, not argv. */
  async sql(statements: string, port: number, database = 'postgres'): Promise<string> {
    const { stdout } = await runCommand(
      [
        'psql',
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        this.socketDirectory,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database,
        '-f',
        '-',
      ],
      { input: statements },
    );
    return stdout;
  }

  /** Stops the server and deletes everything of the cluster. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
