/** `tether agents ls|revoke`: the agents you may see, and cutting one off for good. */
import { Command } from 'commander';
import { isRevoked, listAgents, resolveAgent, type AgentView } from './agent-list.ts';
import { clientFor, withConnection } from './context.ts';
import { formatAgo, formatJson, formatTable } from './output.ts';

const LS_EXAMPLES = `
Examples:
  tether agents ls
  tether agents ls --account acme --json`;

const HEADERS = ['ID', 'NAME', 'ACCOUNT', 'ONLINE', 'OS', 'ARCH', 'VERSION', 'LAST SEEN'];

export function agentsCommand(): Command {
  const agents = new Command('agents').description('list and revoke agents');

  withConnection(agents.command('ls'), { json: true })
    .alias('list')
    .description('list the agents you may see')
    .option('--account <name>', 'only agents of this account (name or id)')
    .addHelpText('after', LS_EXAMPLES)
    .action(async (options) => {
      const client = await clientFor(options);
      const rows = await listAgents(client, options.account);
      process.stdout.write(options.json ? formatJson(rows) : agentTable(rows));
    });

  withConnection(agents.command('revoke'))
    .description('revoke an agent: its link closes and its key is refused from then on')
    .argument('<agent>', 'agent name or id')
    .addHelpText('after', '\nExample:\n  tether agents revoke web-01')
    .action(async (ref: string, options) => {
      const client = await clientFor(options);
      const agent = resolveAgent(await listAgents(client), ref);
      const path = `/api/v1/agents/${encodeURIComponent(agent.id)}/revoke`;
      await client.post(path, {}, { doing: `revoking agent ${agent.name}` });
      process.stdout.write(`revoked agent ${agent.name} (${agent.id})\n`);
    });

  return agents;
}

export function agentTable(agents: readonly AgentView[], now = Date.now()): string {
  const rows = agents.map((agent) => [
    agent.id,
    agent.name,
    agent.accountName,
    onlineLabel(agent),
    agent.os,
    agent.arch,
    agent.version,
    agent.online ? 'now' : formatAgo(agent.lastSeenAt, now),
  ]);
  return formatTable(HEADERS, rows);
}

function onlineLabel(agent: AgentView): string {
  if (isRevoked(agent)) return 'revoked';
  return agent.online ? 'yes' : 'no';
}
