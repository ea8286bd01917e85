/** `tether forward AGENT [LOCAL_PORT:]HOST:PORT`: a local port that reaches HOST:PORT from the server. */
import { Command } from 'commander';
import { listAgents, resolveAgent } from '../agent-list.ts';
import { clientFor, withConnection } from '../context.ts';
import { parseForwardSpec } from './forward-spec.ts';
import { ForwardSession } from './forward-session.ts';

const EXAMPLES = `
Examples:
  tether forward db-1 5432                      a free local port reaches 127.0.0.1:5432 on db-1
  tether forward db-1 15432:5432                127.0.0.1:15432 here reaches port 5432 there
  tether forward web-1 8080:10.0.0.7:80         a host only web-1 can reach
  tether forward web-1 8080:80 --ticket 3f2a…   for a ticket (the policy may pre-approve it)

Listens on 127.0.0.1 only. Asks the customer first when the account's policy says so, and
prints each connection. Ctrl-C ends the forward on the endpoint and closes its connections.`;

export function forwardCommand(): Command {
  return withConnection(new Command('forward'))
    .description(
      'listen on a local port; each connection reaches HOST:PORT from the agent’s server',
    )
    .argument('<agent>', 'agent name or id')
    .argument(
      '<spec>',
      '[LOCAL_PORT:]HOST:PORT; HOST defaults to 127.0.0.1, LOCAL_PORT to a free port',
    )
    .option('--ticket <id>', 'the ticket this forward is for')
    .option('-q, --quiet', 'print only failures, not each connection')
    .addHelpText('after', EXAMPLES)
    .action(async (ref: string, specText: string, options) => {
      const spec = parseForwardSpec(specText);
      const client = await clientFor(options);
      const agent = resolveAgent(await listAgents(client), ref);
      const session = new ForwardSession(client, agent, spec, {
        ticket: options.ticket,
        quiet: options.quiet,
      });
      process.exitCode = await session.run();
    });
}
