/** `tether-agent` and `tether agent`: flags in, an exit code out. */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AGENT_VERSION, TetherError } from '@tether/protocol';

const EXIT_USAGE = 64;
const EXIT_REFUSED = 3;

const HELP = `tether-agent ${AGENT_VERSION}: the Tether agent for one server

Usage:
  tether-agent --endpoint URL --join-token TOKEN --state DIR   enroll (first run) and run
  tether-agent --state DIR                                      run with the saved identity
  tether-agent --endpoint URL --join-token TOKEN --state DIR --enroll-only

Options:
  --endpoint URL      the Tether endpoint, e.g. https://support.example.com
  --join-token TOKEN  a join token from "tether tokens create" (needed once, to enroll)
  --state DIR         where the agent keeps its key and identity (default ./tether-agent-state)
  --name NAME         the name to enroll under (default: this host's name)
  --enroll-only       enroll, save the identity and exit
  --log-level LEVEL   trace, debug, info (default), warn, error
  --self-test         check the bundled native parts (executable only)
  --version, --help
`;

export async function agentMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        endpoint: { type: 'string' },
        'join-token': { type: 'string' },
        state: { type: 'string', default: './tether-agent-state' },
        name: { type: 'string' },
        'enroll-only': { type: 'boolean' },
        'log-level': { type: 'string', default: 'info' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`tether-agent: ${(error as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.version) {
    process.stdout.write(`tether-agent ${AGENT_VERSION}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  // Loaded only now, so --version and --help answer without loading ssh2 and friends.
  const { ensureEnrolled, startAgent } = await import('./agent.ts');
  const logger = pino(
    { level: values['log-level'], base: { app: 'tether-agent' } },
    pino.destination(2),
  );
  const options = {
    endpoint: values.endpoint,
    joinToken: values['join-token'],
    stateDir: values.state as string,
    name: values.name,
    logger,
  };
  try {
    if (values['enroll-only']) {
      const identity = await ensureEnrolled(options, logger);
      process.stdout.write(`enrolled as ${identity.name} (${identity.agentId})\n`);
      return 0;
    }
    const agent = await startAgent(options);
    const onSignal = (): void => void agent.close();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const refusal = await agent.stopped;
    return refusal === null ? 0 : EXIT_REFUSED;
  } catch (error) {
    if (error instanceof TetherError) {
      process.stderr.write(`tether-agent: ${error.message}\n`);
      return error.code === 'invalid_request' ? EXIT_USAGE : 1;
    }
    throw error;
  }
}
