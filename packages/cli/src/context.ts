/** The options every client verb shares, and the Client they resolve to. */
import { InvalidArgumentError, type Command } from 'commander';
import { Client } from './client.ts';
import { configPath, loadSaved, resolveConnection, type ConnectionFlags } from './config.ts';
import { parseDuration } from './duration.ts';

/** Adds `--url` and `--token` (and `--json` when asked) to a client verb. */
export function withConnection(command: Command, options: { json?: boolean } = {}): Command {
  command
    .option('--url <url>', 'endpoint URL (default: $TETHER_URL, then the saved login)')
    .option('--token <token>', 'API token (default: $TETHER_TOKEN, then the saved login)');
  if (options.json) command.option('--json', 'print JSON instead of a table');
  return command;
}

export async function clientFor(flags: ConnectionFlags): Promise<Client> {
  const saved = await loadSaved(configPath());
  const connection = resolveConnection(flags, process.env, saved);
  return new Client(connection.url, connection.token, connection.tokenSource);
}

/** Commander argument parser for durations: `--ttl 1h` arrives as 3600000. */
export function durationArg(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Commander argument parser for counts of at least one. */
export function countArg(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`expected a whole number of at least 1, got "${text}"`);
  }
  return value;
}
