/** The `tether` command: one commander program; failures become one line and an exit status. */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { agentsCommand } from './agents.ts';
import { auditCommand } from './audit.ts';
import { describeError } from './errors.ts';
import { execCommand } from './exec.ts';
import { loginCommand, whoamiCommand } from './login.ts';
import { agentCommand, demoCommand, repositoryCommand, serveCommand } from './server.ts';
import { keysCommand } from './keys.ts';
import { scriptCommand } from './scripts.ts';
import { tokensCommand } from './tokens.ts';
import { ttyCommand } from './tty.ts';
import { recordingCommand } from './recording.ts';
import { cpCommand, fsCommand } from './fs/fs-command.ts';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const HELP = `
Examples:
  tether demo                                   try it all on this machine
  tether login https://support.example.com      sign in and save a token
  tether agents ls
  tether exec web-01 -- df -h
  tether fs ls web-01:/etc
  tether cp web-01:/var/log/syslog .
  tether audit tail

Environment:
  TETHER_URL, TETHER_TOKEN   endpoint and API token; --url/--token win, the saved login loses
  TETHER_LISTEN              default address for tether serve
  XDG_CONFIG_HOME            where tether login saves (default: ~/.config/tether/config.json)`;

export async function main(argv: string[]): Promise<void> {
  process.stdout.on('error', onStdoutError);
  const program = buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    process.exitCode = report(error);
  }
}

function buildProgram(argv: readonly string[]): Command {
  const program = new Command('tether')
    .description('Tether remote support: the endpoint, the agent, and everything in between')
    .version(version, '-V, --version')
    // Options after a verb belong to it: `tether agent --version` asks the agent.
    .enablePositionalOptions()
    .addHelpText('after', HELP)
    .addCommand(loginCommand())
    .addCommand(whoamiCommand())
    .addCommand(agentsCommand())
    .addCommand(execCommand())
    .addCommand(tokensCommand())
    .addCommand(auditCommand())
    .addCommand(ttyCommand())
    .addCommand(recordingCommand())
    .addCommand(keysCommand())
    .addCommand(scriptCommand())
    .addCommand(repositoryCommand())
    .addCommand(fsCommand())
    .addCommand(cpCommand())
    .addCommand(serveCommand())
    .addCommand(demoCommand())
    .addCommand(agentCommand(argv));

  forEachCommand(program, (command) =>
    command.exitOverride().showHelpAfterError('(add --help for usage and examples)'),
  );
  return program;
}

/** Commander has already printed its own errors; ours get one `tether: …` line. */
function report(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;

  const message = describeError(error);
  if (message !== undefined) {
    process.stderr.write(`tether: ${message}\n`);
    return 1;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`tether: unexpected error, please report it:\n${detail}\n`);
  return 1;
}

/** Commands added with addCommand do not inherit settings, so each is configured. */
function forEachCommand(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const child of command.commands) forEachCommand(child, apply);
}

/** `tether … | head` closes our stdout early; that is the reader's choice, not a failure. */
function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') return;
  process.stderr.write(`tether: cannot write output: ${error.message}\n`);
  process.exitCode = 1;
}
