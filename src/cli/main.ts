#!/usr/bin/env node
/**
 * The `sgpods` command. Subcommands load their modules lazily, so `sgpods --help` and short-lived
 * entry points stay fast. Errors become one line on stderr and an exit code (exit-codes.ts);
 * `--debug` adds the stack.
 */
import '../adapters/aws/quiet-sdk-warning.js';
import { Command, CommanderError, Option } from 'commander';
import { SgpodsError, InputError } from '../core/errors.js';
import { exitCodes, type ExitCode } from './exit-codes.js';
import { resolveHome } from './home.js';
import type { ExplainOptions } from './commands/explain.js';
import { createRequire } from 'node:module';

const packageJson = createRequire(import.meta.url)('../../package.json') as { version: string };

interface GlobalOptions {
  readonly home?: string;
  readonly debug?: boolean;
}

function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof InputError) return exitCodes.badInput;
  if (error instanceof SgpodsError && error.code === 'SGPODS_EC2_INVALID_REQUEST')
    return exitCodes.badInput;
  return exitCodes.internal;
}

function report(error: unknown, debug: boolean): ExitCode {
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    code === exitCodes.internal ? `sgpods: internal error: ${message}\n` : `sgpods: ${message}\n`,
  );
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return code;
}

function parseInteger(value: string): number {
  if (!/^\d+$/.test(value)) throw new InputError(`not a non-negative integer: ${value}`);
  return Number(value);
}

function buildProgram(): Command {
  const program = new Command('sgpods')
    .description('Security groups for pods, as Amazon EKS offers them.')
    .version(packageJson.version)
    .option('--home <dir>', 'sandbox home (default: $SGPODS_HOME, else /var/lib/sgpods)')
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('explain')
    .description(
      'Explain whether security groups allow a flow: live on the sandbox (explain <source> <target>[:port][/protocol] [--probe]), or offline from what `aws ec2 describe-*` prints (--from, --to, --protocol, --security-groups, --network-interfaces).',
    )
    .argument(
      '[source]',
      'live form: pod/<ns>/<name>, deploy/<ns>/<name>, rds/<id>, i-…, eni-…, an IP or a DNS name',
    )
    .argument('[target]', 'live form: as the source, then [:port][/tcp|udp|icmp|all]')
    .option('--probe', 'live form: also try a real connection from the source (tcp)')
    .option('--from <ip|eni-id>', 'source address or network interface id')
    .option('--to <ip|eni-id>', 'destination address or network interface id')
    .option(
      '--protocol <name|number>',
      'tcp, udp, icmp, icmpv6, -1 (all traffic) or an IP protocol number',
    )
    .option('--port <n>', 'destination port (tcp, udp)')
    .option('--icmp-type <n>', 'ICMP type (icmp, icmpv6)')
    .option('--icmp-code <n>', 'ICMP code (icmp, icmpv6; default 0)')
    .option(
      '--security-groups <file>',
      'output of `aws ec2 describe-security-groups --output json`',
    )
    .option(
      '--network-interfaces <file>',
      'output of `aws ec2 describe-network-interfaces --output json`',
    )
    .option(
      '--prefix-lists <file>',
      '{"PrefixLists":[{"PrefixListId":"pl-…","Entries":[{"Cidr":"…"}]}]}',
    )
    .option(
      '--vpc-cidr <cidr...>',
      'VPC CIDR blocks (their base + 2 is the DNS resolver, which groups never filter)',
    )
    .addOption(
      new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'),
    )
    .action(
      async (
        source: string | undefined,
        target: string | undefined,
        options: Partial<ExplainOptions> & { probe?: boolean; output: 'text' | 'json' },
      ) => {
        if (source !== undefined) {
          if (target === undefined)
            throw new InputError('explain <source> <target>: no target given');
          const offline = [
            'from',
            'to',
            'protocol',
            'securityGroups',
            'networkInterfaces',
          ] as const;
          const mixed = offline.find((key) => options[key] !== undefined);
          if (mixed)
            throw new InputError(
              'give either <source> <target> (live) or --from/--to (offline), not both',
            );
          const { runLiveExplain } = await import('./commands/explain-live.js');
          process.exitCode = await runLiveExplain({
            home: resolveHome(program.opts<GlobalOptions>().home),
            source,
            target,
            probe: options.probe === true,
            output: options.output,
          });
          return;
        }
        const { runExplain, requireOfflineOptions } = await import('./commands/explain.js');
        process.exitCode = runExplain(requireOfflineOptions(options));
      },
    );

  program
    .command('cloud')
    .description(
      "Run the home's local cloud (EC2 API with enforcing security groups) in the foreground; writes <home>/aws-env.",
    )
    .option(
      '--port <n>',
      'loopback port (default: the previous one, else any free port)',
      parseInteger,
    )
    .option('--region <region>', 'region of a new home (default: us-west-2)')
    .option('--cluster-name <name>', 'EKS cluster name of a new home (default: eksworkshop-eksctl)')
    .option(
      '--no-dataplane',
      'serve the API only; do not enforce groups in the kernel (no root needed)',
    )
    .action(
      async (options: {
        port?: number;
        region?: string;
        clusterName?: string;
        dataplane: boolean;
      }) => {
        const { runCloud } = await import('./commands/cloud.js');
        process.exitCode = await runCloud({
          home: resolveHome(program.opts<GlobalOptions>().home),
          ...options,
        });
      },
    );

  const faults = program
    .command('faults')
    .description("Inject AWS errors or latency into the home's cloud (for tests).");
  faults
    .command('add')
    .description('make an action fail with an AWS error, or answer late')
    .requiredOption('--action <name>', 'EC2 action name, or * for every action')
    .option('--error <code>', 'AWS error code (RequestLimitExceeded, InternalError, ...)')
    .option('--message <text>', 'error message')
    .option('--status <n>', 'HTTP status (default: what AWS uses for the code)', parseInteger)
    .option('--times <n>', 'number of calls to hit (default: every call)', parseInteger)
    .option('--latency-ms <n>', 'delay before answering', parseInteger)
    .action(
      async (options: {
        action: string;
        error?: string;
        message?: string;
        status?: number;
        times?: number;
        latencyMs?: number;
      }) => {
        const { runFaultsAdd } = await import('./commands/faults.js');
        process.exitCode = runFaultsAdd(resolveHome(program.opts<GlobalOptions>().home), {
          action: options.action,
          ...(options.error ? { errorCode: options.error } : {}),
          ...(options.message ? { message: options.message } : {}),
          ...(options.status !== undefined ? { httpStatus: options.status } : {}),
          ...(options.times !== undefined ? { times: options.times } : {}),
          ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
        });
      },
    );
  faults
    .command('list')
    .description('list armed faults')
    .action(async () => {
      const { runFaultsList } = await import('./commands/faults.js');
      process.exitCode = runFaultsList(resolveHome(program.opts<GlobalOptions>().home));
    });
  faults
    .command('clear')
    .description('remove every fault')
    .action(async () => {
      const { runFaultsClear } = await import('./commands/faults.js');
      process.exitCode = runFaultsClear(resolveHome(program.opts<GlobalOptions>().home));
    });

  program
    .command('kube-apiserver')
    .description(
      "Run the home's Kubernetes API server in the foreground (HTTPS); writes <home>/kubeconfig.",
    )
    .option('--port <n>', 'loopback port (default: any free port)', parseInteger)
    .option(
      '--crds <dir>',
      'install the CRD manifests of this folder at start (default: the EKS ones, deploy/crds)',
    )
    .option('--no-crds', 'install no CRDs at start')
    .action(async (options: { port?: number; crds?: string | boolean }) => {
      const { runKubeApiServer } = await import('./commands/kube-apiserver.js');
      process.exitCode = await runKubeApiServer({
        home: resolveHome(program.opts<GlobalOptions>().home),
        ...options,
      });
    });

  program
    .command('kube')
    .description(
      'Run a local Kubernetes cluster in the foreground: API server, controllers, scheduler and a kubelet per node (root); writes <home>/kubeconfig.',
    )
    .option('--nodes <n>', 'how many nodes (network namespaces)', parseInteger, 2)
    .option('--port <n>', 'API server loopback port (default: any free port)', parseInteger)
    .option(
      '--instance-type <type>',
      'EC2 instance type the nodes report (capacity, max pods)',
      't3.large',
    )
    .option(
      '--upstream-dns <ip>',
      "the nodes' resolver, where cluster DNS forwards other names (default: none)",
    )
    .option(
      '--sandbox',
      "nodes are the home's cloud instances of the cluster's node groups (what sgpods up runs)",
    )
    .action(
      async (options: {
        nodes: number;
        port?: number;
        instanceType: string;
        upstreamDns?: string;
        sandbox?: boolean;
      }) => {
        const { runKube } = await import('./commands/kube.js');
        process.exitCode = await runKube({
          home: resolveHome(program.opts<GlobalOptions>().home),
          ...options,
        });
      },
    );

  program
    .command('exec')
    .description(
      "Run a command inside an instance of the home's cloud (its network namespace and resolv.conf).",
    )
    .argument('<instance-id>', 'the instance (i-…)')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (instanceId: string, command: string[]) => {
      const { runExec } = await import('./commands/exec.js');
      process.exitCode = await runExec({
        home: resolveHome(program.opts<GlobalOptions>().home),
        instanceId,
        command,
      });
    });

  program
    .command('vpc-services', { hidden: true })
    .description('(internal) the VPC metadata service and resolver, run by the cloud')
    .action(async () => {
      const { runVpcServicesCommand } = await import('./commands/vpc-services.js');
      process.exitCode = await runVpcServicesCommand(
        resolveHome(program.opts<GlobalOptions>().home),
      );
    });

  program
    .command('up')
    .description(
      'Start the sandbox in the background (the cloud, then a cluster whose nodes are its EC2 instances) and return once the nodes are Ready.',
    )
    .option('-f, --config-file <file>', 'an eksctl ClusterConfig (default: the workshop cluster)')
    .action(async (options: { configFile?: string }) => {
      const { runUp } = await import('./commands/up.js');
      process.exitCode = await runUp({
        home: resolveHome(program.opts<GlobalOptions>().home),
        ...(options.configFile ? { file: options.configFile } : {}),
      });
    });

  program
    .command('status')
    .description("Show what of the home's sandbox runs: the cloud, the cluster and its nodes.")
    .action(async () => {
      const { runStatus } = await import('./commands/status.js');
      process.exitCode = await runStatus(resolveHome(program.opts<GlobalOptions>().home));
    });

  const nodegroup = program
    .command('nodegroup')
    .description("Create or delete node groups of the sandbox's cluster (as eksctl does).");
  nodegroup
    .command('create')
    .description(
      "Launch a ClusterConfig's node groups as EC2 instances; returns when their nodes are Ready.",
    )
    .requiredOption('-f, --config-file <file>', 'an eksctl ClusterConfig with the node groups')
    .action(async (options: { configFile: string }) => {
      const { runNodeGroupCreate } = await import('./commands/nodegroup.js');
      process.exitCode = await runNodeGroupCreate({
        home: resolveHome(program.opts<GlobalOptions>().home),
        file: options.configFile,
      });
    });
  nodegroup
    .command('delete')
    .description("Terminate a node group's instances; returns when its nodes are gone.")
    .option('-f, --config-file <file>', 'an eksctl ClusterConfig naming the node groups')
    .option('--name <name>', 'the node group')
    .option('--approve', "accepted as eksctl's; the deletion needs no confirmation")
    .action(async (options: { configFile?: string; name?: string }) => {
      const { runNodeGroupDelete } = await import('./commands/nodegroup.js');
      process.exitCode = await runNodeGroupDelete({
        home: resolveHome(program.opts<GlobalOptions>().home),
        ...(options.configFile ? { file: options.configFile } : {}),
        ...(options.name ? { name: options.name } : {}),
      });
    });

  program
    .command('controller')
    .description(
      'The security-groups-for-pods controller (CRDs, admission webhooks, fail-closed namespaces, CNINodes); flags as the resource controller.',
    )
    .option('--cluster-name <name>', 'the EKS cluster name (required)')
    .option('--vpc-id <id>', "the cluster's VPC (required)")
    .option('--aws-region <region>', 'the AWS region')
    .option(
      '--leader-elect',
      'elect a leader among replicas (Lease kube-system/cp-vpc-resource-controller)',
    )
    .option('--leader-lease-duration-seconds <n>', 'lease duration', parseInteger, 30)
    .option('--leader-lease-renew-deadline <n>', 'renew deadline (seconds)', parseInteger, 15)
    .option('--leader-lease-retry-period <n>', 'retry period (seconds)', parseInteger, 5)
    .option('--metrics-bind-address <address>', 'metrics endpoint', ':8080')
    .option('--health-probe-bind-address <address>', 'health endpoints', ':61779')
    .option('--webhook-port <n>', 'webhook server port', parseInteger, 9443)
    .option(
      '--webhook-service-name <name>',
      "the webhook Service's name",
      'vpc-resource-webhook-service',
    )
    .option('--webhook-service-namespace <ns>', "the webhook Service's namespace", 'kube-system')
    .option('--apiserver-qps <n>', 'API server queries per second', parseInteger, 20)
    .option('--apiserver-burst <n>', 'API server burst', parseInteger, 30)
    .option('--kubeconfig <file>', 'a kubeconfig (default: in-cluster)')
    .option('--log-level <level>', 'info or debug', 'info')
    .option('--user-client-qps <n>', 'EC2 calls per second (token bucket)', parseInteger, 12)
    .option('--user-client-burst <n>', 'EC2 call burst', parseInteger, 18)
    .option(
      '--instance-client-qps <n>',
      'accepted for compatibility (one EC2 client)',
      parseInteger,
    )
    .option(
      '--instance-client-burst <n>',
      'accepted for compatibility (one EC2 client)',
      parseInteger,
    )
    .option(
      '--fallback-to-instance-sg [bool]',
      "a pod-eni pod matching no policy gets the node's groups (upstream) instead of waiting",
    )
    .option(
      '--live-policy [bool]',
      "running pods' branch ENI groups follow policy, label and service-account changes (default true)",
    )
    .option(
      '--recreate-unadmitted-pods [bool]',
      'delete running pods that match a policy but lack the pod-eni request, so their controller makes them again (default true)',
    )
    .action(async (options: Record<string, unknown>) => {
      const { runControllerCommand } = await import('./commands/controller.js');
      process.exitCode = await runControllerCommand(options);
    });

  program
    .command('agent')
    .description(
      "The node agent (aws-node's role): IPAM and the CNI plugin for the node it runs on; settings from the environment.",
    )
    .action(async () => {
      const { runAgentCommand } = await import('./commands/agent.js');
      process.exitCode = await runAgentCommand();
    });

  program
    .command('control-plane-endpoint', { hidden: true })
    .description("(internal) the control plane's endpoint in the VPC, run by the cloud")
    .requiredOption('--api <address>', 'the Kubernetes API address')
    .requiredOption('--services <address>', 'the AWS service endpoints address')
    .action(async (options: { api: string; services: string }) => {
      const { runControlPlaneEndpoint } = await import('./commands/control-plane-endpoint.js');
      process.exitCode = await runControlPlaneEndpoint({
        home: resolveHome(program.opts<GlobalOptions>().home),
        ...options,
      });
    });

  program
    .command('env')
    .description(
      'Print the exports that point kubectl and the aws CLI at the sandbox: eval "$(sgpods env)".',
    )
    .action(async () => {
      const { runEnv } = await import('./commands/env-and-logs.js');
      process.exitCode = runEnv(resolveHome(program.opts<GlobalOptions>().home));
    });

  program
    .command('logs')
    .description(
      'Show (-f: follow) the log of cloud, kube, dashboard, controller, aws-node or coredns.',
    )
    .argument('<component>', 'cloud, kube, dashboard, controller, aws-node or coredns')
    .option('-f, --follow', 'keep printing new lines')
    .action(async (component: string, options: { follow?: boolean }) => {
      const { runLogs } = await import('./commands/env-and-logs.js');
      process.exitCode = await runLogs(resolveHome(program.opts<GlobalOptions>().home), component, {
        follow: options.follow === true,
      });
    });

  program
    .command('flows')
    .description(
      "Show the sandbox's VPC flow logs (v2 records: accepted flows and packets a security group rejected, per ENI).",
    )
    .option('--eni <id>', 'only the records of this ENI')
    .option('--pod <namespace/name>', 'only the flows of this pod (its IP at either end)')
    .option('-f, --follow', 'keep printing records as they come')
    .action(async (options: { eni?: string; pod?: string; follow?: boolean }) => {
      const { runFlows } = await import('./commands/flows.js');
      process.exitCode = await runFlows({
        home: resolveHome(program.opts<GlobalOptions>().home),
        ...options,
      });
    });

  program
    .command('dashboard')
    .description(
      "Serve the sandbox's dashboard on loopback (sgpods up starts it): the VPC, pods, groups and live flows.",
    )
    .option('--port <port>', 'the port to try first (a taken one falls back to a free one)', '7480')
    .action(async (options: { port: string }) => {
      const { runDashboard } = await import('./commands/dashboard.js');
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new InputError(`--port takes a port number, not "${options.port}"`);
      }
      process.exitCode = await runDashboard({
        home: resolveHome(program.opts<GlobalOptions>().home),
        port,
      });
    });

  program
    .command('shell')
    .description(
      "A shell on the sandbox's workstation, an instance in the VPC (the workshop's Cloud9) with aws, kubectl, psql, jq, curl and sgpods set up; with -- command, run that instead.",
    )
    .argument('[command...]', 'a command to run instead of an interactive shell (after --)')
    .action(async (command: string[]) => {
      const { runShell } = await import('./commands/shell.js');
      process.exitCode = await runShell({
        home: resolveHome(program.opts<GlobalOptions>().home),
        command,
      });
    });

  program
    .command('demo')
    .description(
      'Replay the EKS workshop "security groups for pods" on the sandbox (started if needed) with the aws CLI and kubectl; exit 0 when green reads RDS and red times out.',
    )
    .action(async () => {
      const { runDemo } = await import('./commands/demo.js');
      process.exitCode = await runDemo({ home: resolveHome(program.opts<GlobalOptions>().home) });
    });

  program
    .command('down')
    .description(
      'Stop every process of the home and remove every kernel object it created (namespaces, links, nft tables).',
    )
    .option('--purge', "also delete the home's state")
    .action(async (options: { purge?: boolean }) => {
      const { runDown } = await import('./commands/down.js');
      process.exitCode = await runDown({
        home: resolveHome(program.opts<GlobalOptions>().home),
        purge: options.purge === true,
      });
    });

  return program;
}

async function main(argv: readonly string[]): Promise<ExitCode> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return (process.exitCode as ExitCode | undefined) ?? exitCodes.success;
  } catch (error) {
    if (error instanceof CommanderError) {
      const success = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      return success.includes(error.code) ? exitCodes.success : exitCodes.badInput;
    }
    // A failed long-running command may hold servers and timers: exit now (stderr is
    // synchronous for files and pipes, so the message is out).
    process.exit(report(error, program.opts<GlobalOptions>().debug === true));
  }
}

process.exitCode = await main(process.argv);
