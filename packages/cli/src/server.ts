/** `tether serve`, `tether demo` and `tether agent`: the long-running programs, loaded lazily. */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from './errors.ts';

const DEFAULT_DATA_DIR = './.tether';
/** The demo's data folder: what `npm start` uses, as the README says. */
const DEFAULT_DEMO_DATA_DIR = './.tether';
/** Loopback unless told otherwise: a fresh endpoint has no users worth exposing yet. */
const DEFAULT_LISTEN = '127.0.0.1:8080';
const SERVE_LISTEN_DEFAULT = `$TETHER_LISTEN or ${DEFAULT_LISTEN}`;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface ListenAddress {
  host: string;
  port: number;
}

const AGENT_HELP = `
Other flags go to the agent as they are, e.g. --version.

Example:
  tether agent --endpoint https://support.example.com --join-token … --state /var/lib/tether`;

const SERVE_HELP = `
Examples:
  tether serve
  tether serve --data /var/lib/tether --listen 0.0.0.0:443 \\
    --tls-cert /etc/tether/cert.pem --tls-key /etc/tether/key.pem
  tether serve --db postgres://tether@db/tether --bus nats://nats:4222 \\
    --listen 10.0.0.5:8080 --trust-proxy --public-url https://support.example.com`;

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the endpoint: API, support site, agent connections')
    .option('--data <dir>', 'data folder (SQLite database, recordings, blobs)', DEFAULT_DATA_DIR)
    .addOption(
      new Option(
        '--listen <host:port>',
        `address to listen on (default: ${SERVE_LISTEN_DEFAULT})`,
      ).argParser(listenArg),
    )
    .option('--db <url>', 'PostgreSQL instead of SQLite, e.g. postgres://user@host/db')
    .option('--bus <url>', 'NATS bus shared by several endpoint processes, e.g. nats://host:4222')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM)')
    .option('--trust-proxy', 'take client addresses from X-Forwarded-For (behind a proxy)')
    .option('--public-url <url>', 'the address people and agents use, if not the listen address')
    .option(
      '--audit-key-file <file>',
      "the audit log's HMAC key; every process sharing --db needs the same (default DATA/audit.key)",
    )
    .option(
      '--repository <url>',
      'use a separate script repository (tether repository serve) instead of the embedded one',
    )
    .addOption(logLevelOption())
    .addHelpText('after', SERVE_HELP)
    .action(async (options) => {
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) {
        throw new UsageError('--tls-cert and --tls-key go together');
      }
      const { serve } = await import('@tether/endpoint');
      await serve({
        dataDir: resolve(options.data),
        listen: options.listen ?? parseListen(process.env.TETHER_LISTEN || DEFAULT_LISTEN),
        dbUrl: options.db,
        busUrl: options.bus,
        tlsCert: options.tlsCert,
        tlsKey: options.tlsKey,
        trustProxy: Boolean(options.trustProxy),
        publicUrl: options.publicUrl,
        auditKeyFile: options.auditKeyFile,
        repositoryUrl: options.repository,
        logLevel: options.logLevel,
      });
    });
}

const REPOSITORY_HELP = `
The repository has no users of its own: run it behind an endpoint started with
--repository URL, and trust that endpoint's key (DATA/endpoint-key.pub of the endpoint).

Example:
  tether repository serve --data /var/lib/tether-repo --listen 127.0.0.1:8081 \\
    --trust-endpoint-key /var/lib/tether/endpoint-key.pub`;

export function repositoryCommand(): Command {
  const repository = new Command('repository').description('the script repository on its own');
  repository
    .command('serve')
    .description('run the script repository alone (tether serve embeds one by default)')
    .option('--data <dir>', 'data folder (objects, and SQLite unless --db)', './.tether-repository')
    .option('--listen <host:port>', 'address to listen on (default: 127.0.0.1:8081)', listenArg)
    .option('--db <url>', 'PostgreSQL instead of SQLite, e.g. postgres://user@host/db')
    .option(
      '--trust-endpoint-key <file>',
      'an endpoint public key file whose signed callers are believed (repeatable)',
      (file: string, previous: string[]) => [...previous, file],
      [] as string[],
    )
    .addOption(logLevelOption())
    .addHelpText('after', REPOSITORY_HELP)
    .action(async (options) => {
      const { readFileSync } = await import('node:fs');
      const keys = (options.trustEndpointKey as string[]).map((file) => {
        try {
          return readFileSync(file, 'utf8').trim();
        } catch (error) {
          throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
        }
      });
      const { serveRepository } = await import('@tether/endpoint');
      await serveRepository({
        dataDir: resolve(options.data),
        listen: options.listen ?? parseListen('127.0.0.1:8081'),
        dbUrl: options.db,
        trustEndpointKeys: keys,
        logLevel: options.logLevel,
      });
    });
  return repository;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run an endpoint with demo accounts, people and a local agent to try things')
    .option('--data <dir>', 'data folder for the demo', DEFAULT_DEMO_DATA_DIR)
    .option('--listen <host:port>', `address to listen on (default: ${DEFAULT_LISTEN})`, listenArg)
    .addOption(logLevelOption())
    .addHelpText('after', '\nExample:\n  tether demo --listen 127.0.0.1:9000')
    .action(async (options) => {
      const { demo } = await import('@tether/endpoint');
      await demo({
        dataDir: resolve(options.data),
        listen: options.listen ?? parseListen(DEFAULT_LISTEN),
        logLevel: options.logLevel,
      });
    });
}

/** The agent parses its own flags; these are declared here for `tether agent --help`. */
export function agentCommand(argv: readonly string[]): Command {
  return new Command('agent')
    .description('run the agent on this server: dial out to the endpoint and serve its requests')
    .option('--endpoint <url>', 'endpoint URL, e.g. https://support.example.com')
    .option('--join-token <token>', 'join token for the first start (tether tokens create)')
    .option('--state <dir>', 'where the agent keeps its key and enrollment')
    .option('--name <name>', 'the name people see (default: the host name)')
    .option('--enroll-only', 'enroll, save the identity and exit')
    .addOption(logLevelOption())
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', AGENT_HELP)
    .action(async () => {
      const { agentMain } = await import('@tether/agent');
      process.exitCode = await agentMain(argv.slice(argv.indexOf('agent') + 1));
    });
}

/** `host:port` or `[v6]:port`; the host is required so nothing listens wider than asked. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65_535) {
    throw new UsageError(`invalid listen address "${text}": use HOST:PORT, e.g. 127.0.0.1:8080`);
  }
  return { host: match[1] ?? match[2], port };
}

function listenArg(text: string): ListenAddress {
  try {
    return parseListen(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function logLevelOption(): Option {
  return new Option('--log-level <level>', 'how much to log').choices(LOG_LEVELS).default('info');
}
