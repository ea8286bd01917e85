/** `tether tokens create`: a join token that lets one new agent enroll into an account. */
import { Command, Option } from 'commander';
import { clientFor, countArg, durationArg, withConnection } from './context.ts';
import { formatJson } from './output.ts';

const DEFAULT_TTL_MS = 60 * 60 * 1000;

interface JoinTokenCreated {
  token: string;
  expiresAt: string;
  accountName?: string;
  maxUses?: number;
  installCommand?: string;
  /** The same enrollment with the `tether` command instead of the downloaded agent. */
  agentCommand?: string;
}

const EXAMPLES = `
Examples:
  tether tokens create --account acme
  tether tokens create --account acme --ttl 24h --uses 10 --json`;

export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('join tokens for enrolling agents');

  withConnection(tokens.command('create'), { json: true })
    .description('create a join token (single use and valid for 1h unless you say otherwise)')
    .requiredOption('--account <name>', 'account the new agents will belong to')
    .addOption(
      new Option('--ttl <duration>', 'how long the token stays valid, e.g. 30m, 24h')
        .default(DEFAULT_TTL_MS, '1h')
        .argParser(durationArg),
    )
    .addOption(
      new Option('--uses <n>', 'how many agents may enroll with it').default(1).argParser(countArg),
    )
    .addHelpText('after', EXAMPLES)
    .action(async (options) => {
      const client = await clientFor(options);
      const body = {
        account: options.account,
        ttlSeconds: Math.max(1, Math.round(options.ttl / 1000)),
        maxUses: options.uses,
      };
      const created = await client.post<JoinTokenCreated>('/api/v1/join-tokens', body, {
        doing: 'creating a join token',
      });
      process.stdout.write(options.json ? formatJson(created) : describe(created));
    });

  return tokens;
}

function describe(created: JoinTokenCreated): string {
  const lines = [
    `token:    ${created.token}`,
    `account:  ${created.accountName ?? '-'}`,
    `expires:  ${created.expiresAt}`,
    `uses:     ${created.maxUses ?? 1}`,
  ];
  if (created.installCommand) {
    lines.push('', 'install the agent on the server with:', `  ${created.installCommand}`);
  }
  if (created.agentCommand) lines.push('', 'or run it with tether:', `  ${created.agentCommand}`);
  return `${lines.join('\n')}\n`;
}
