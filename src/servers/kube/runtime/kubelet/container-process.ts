/**
 * A container as processes: `sh` (outside, records the exit status in a file so it survives a
 * kubelet that died) → `ip netns exec <pod netns>` (the pod's network, and a mount namespace
 * where /etc/netns/<pod netns>/{resolv.conf,hosts} cover /etc) → `unshare` (own PID and UTS
 * namespaces, /proc remounted) → `tini -g` as PID 1, forwarding signals to the container's
 * process group and reaping orphans. stdout/stderr go straight to files, so containers keep
 * running when the kubelet is killed; a restarted kubelet adopts them by pid and start time.
 * Memory limits use the cgroup v1 memory controller when the kernel has it.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isRunning, startTimeOf, type PidRecord } from '../../../../adapters/process/pid-file.js';

const memoryCgroupRoot = '/sys/fs/cgroup/memory';

/** The marker in a launcher's argv (`sh -c <script> sgpods-container <exit file> …`). */
const launcherName = 'sgpods-container';

/**
 * Inside the container's own mount namespace (propagation slave: nothing leaks to the host),
 * before its PID namespace exists: the bind mounts (`<source>\t<target>` lines, read-only), then
 * the PID and UTS namespaces with tini as PID 1. A builtin writes the hostname (no child
 * process), so the container's command is PID 2.
 */
const inMountNamespace = [
  'binds=$1 host=$2; shift 2',
  'set -f',
  "IFS='",
  "'",
  'for pair in $binds; do',
  '  mount --bind -o ro "${pair%%\t*}" "${pair#*\t}" || { echo "sgpods: cannot mount ${pair#*\t}" >&2; exit 125; }',
  'done',
  'unset IFS',
  'exec unshare --pid --uts --fork --mount-proc --kill-child \\',
  '  /bin/sh -c \'printf %s "$0" > /proc/sys/kernel/hostname && exec tini -g -s -- "$@"\' "$host" "$@"',
].join('\n');

/** What runs the container (the shell scripts are the only code here that is not TypeScript). */
const launcher = [
  'exitfile=$1 procs=$2 netns=$3 host=$4 binds=$5 inner=$6; shift 6',
  'if [ "$procs" != - ]; then echo $$ > "$procs" || exit 125; fi',
  'nsenter --net="/run/netns/$netns" unshare --mount --propagation slave \\',
  '  /bin/sh -c "$inner" sgpods-mounts "$binds" "$host" "$@"',
  'code=$?',
  'echo "$code" > "$exitfile"',
  'exit "$code"',
].join('\n');

export interface BindMount {
  readonly source: string;
  readonly target: string;
}

export interface ContainerLaunch {
  readonly podNamespace: string;
  readonly hostname: string;
  /** Files and directories bound (read-only) into the container: /etc/resolv.conf, the token… */
  readonly binds: readonly BindMount[];
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  readonly exitPath: string;
  /** cgroup v1 memory directory name (under the memory hierarchy) and limit, when limited. */
  readonly memory?: { readonly cgroup: string; readonly limitBytes: bigint };
}

export interface ContainerExit {
  readonly exitCode: number;
  readonly oomKilled: boolean;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Whether the kernel has the cgroup v1 memory controller (this machine's cgroup v2 has none). */
export function memoryLimitsAvailable(): boolean {
  return existsSync(join(memoryCgroupRoot, 'memory.limit_in_bytes'));
}

function oomKills(cgroup: string): number {
  try {
    const match = /oom_kill (\d+)/.exec(
      readFileSync(join(memoryCgroupRoot, cgroup, 'memory.oom_control'), 'utf8'),
    );
    return Number(match?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export function removeMemoryCgroup(cgroup: string): void {
  try {
    rmdirSync(join(memoryCgroupRoot, cgroup));
  } catch {
    // Still busy or never made.
  }
}

/** What a pod record keeps of a container's processes for the next kubelet. */
export interface SavedProcesses {
  /** The launcher (`sh`, which records the exit status). */
  readonly process?: PidRecord;
  /** The container's init (tini) on the host, once it was seen. */
  readonly init?: PidRecord;
}

export class ContainerProcess {
  #exited: Promise<ContainerExit>;
  /** Followed through its init alone: the launcher was killed, the container was not. */
  readonly #initOnly: boolean;

  private constructor(
    readonly record: PidRecord,
    readonly exitPath: string,
    readonly memoryCgroup: string | undefined,
    exited: Promise<number | undefined>,
    initOnly = false,
  ) {
    this.#initOnly = initOnly;
    this.#exited = exited.then((code) => this.#exitOf(code));
  }

  /** Starts a container; its processes do not depend on the caller staying alive. */
  static start(launch: ContainerLaunch): ContainerProcess {
    const [outFd, errFd] = [openSync(launch.stdoutPath, 'a'), openSync(launch.stderrPath, 'a')];
    writeFileSync(launch.exitPath, '');
    let procs = '-';
    if (launch.memory && memoryLimitsAvailable()) {
      const directory = join(memoryCgroupRoot, launch.memory.cgroup);
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, 'memory.limit_in_bytes'), String(launch.memory.limitBytes));
      procs = join(directory, 'cgroup.procs');
    }
    const cwd = launch.workingDir && existsSync(launch.workingDir) ? launch.workingDir : '/';
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        launcher,
        launcherName,
        launch.exitPath,
        procs,
        launch.podNamespace,
        launch.hostname,
        launch.binds.map((bind) => `${bind.source}\t${bind.target}`).join('\n'),
        inMountNamespace,
        ...launch.argv,
      ],
      { cwd, env: { ...launch.env }, stdio: ['ignore', outFd, errFd], detached: true },
    );
    closeSync(outFd);
    closeSync(errFd);
    child.unref();
    const pid = child.pid ?? 0;
    const exited = new Promise<number | undefined>((resolve) => {
      child.once('error', () => {
        resolve(128);
      });
      child.once('exit', (code, signal) => {
        resolve(code ?? (signal ? 137 : undefined));
      });
    });
    return new ContainerProcess(
      { pid, startTime: startTimeOf(pid) ?? '' },
      launch.exitPath,
      launch.memory?.cgroup,
      exited,
    );
  }

  /**
   * A container a previous kubelet started, followed by polling since it is not our child: by its
   * launcher, or — when a crash killed the launcher but not the container — by its init, so the
   * container is neither counted as exited nor started a second time beside itself. Undefined
   * when nothing of it runs.
   */
  static adopt(
    saved: SavedProcesses,
    exitPath: string,
    memoryCgroup?: string,
  ): ContainerProcess | undefined {
    const followed = [saved.process, saved.init].find(
      (record): record is PidRecord => record !== undefined && isRunning(record),
    );
    if (!followed) return undefined;
    const exited = new Promise<number | undefined>((resolve) => {
      const check = (): void => {
        if (!isRunning(followed)) resolve(undefined);
        else setTimeout(check, 250);
      };
      check();
    });
    return new ContainerProcess(
      followed,
      exitPath,
      memoryCgroup,
      exited,
      followed !== saved.process,
    );
  }

  /**
   * The init's pid and start time, for the pod record: undefined until tini itself runs (before,
   * the chain's child may be a passing `mount` or the `sh` that is about to exec tini).
   */
  initRecord(): PidRecord | undefined {
    const pid = this.initPid();
    if (pid === undefined || commandOf(pid) !== 'tini') return undefined;
    const startTime = startTimeOf(pid);
    return startTime === undefined ? undefined : { pid, startTime };
  }

  get exited(): Promise<ContainerExit> {
    return this.#exited;
  }

  #exitOf(code: number | undefined): ContainerExit {
    let recorded: number | undefined;
    try {
      const text = readFileSync(this.exitPath, 'utf8').trim();
      if (text) recorded = Number(text);
    } catch {
      // No file: the shell itself was killed.
    }
    const exitCode = recorded ?? code ?? 137;
    const oomKilled = this.memoryCgroup !== undefined && oomKills(this.memoryCgroup) > 0;
    // A fresh cgroup per run: its oom_kill counter must not speak for the next run.
    if (this.memoryCgroup !== undefined) removeMemoryCgroup(this.memoryCgroup);
    return { exitCode, oomKilled };
  }

  /** The container's PID 1 (tini) on the host, once it runs. */
  initPid(): number | undefined {
    if (this.#initOnly) return this.record.pid;
    // sh → unshare (ip netns exec replaced itself) → sh (PID 1, execs tini).
    for (const unshare of childrenOf(this.record.pid)) {
      const init = childrenOf(unshare)[0];
      if (init) return init;
    }
    return undefined;
  }

  /** Signals the container (through its init, which forwards to the process group). */
  signal(signal: NodeJS.Signals): void {
    const init = this.initPid();
    const target = signal === 'SIGKILL' || init === undefined ? this.#outermost() : [init];
    for (const pid of target) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone.
      }
    }
  }

  #outermost(): number[] {
    // Killing a PID namespace's init kills every process in it.
    if (this.#initOnly) return [this.record.pid];
    const unshare = childrenOf(this.record.pid);
    const inits = unshare.flatMap(childrenOf);
    return [...inits, ...unshare];
  }

  get running(): boolean {
    return isRunning(this.record);
  }
}

/**
 * The host pids of the container launchers of a home (their exit file lies under it): what
 * `sgpods down` kills and what tests check is gone.
 */
export function containerLaunchersOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[3] === launcherName && (argv[4] ?? '').startsWith(`${home}/`))
        pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}
