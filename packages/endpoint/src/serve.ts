/** `tether serve` and `tether demo`: run until a signal, then stop cleanly. */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { startEndpoint, type EndpointOptions, type RunningEndpoint } from './server.ts';
import type { Services } from './services.ts';

const DEMO_ACCOUNT = 'Demo Co';
const DEMO_AGENT_NAME = 'local';
const DEMO_MARK = 'demo_seeded';

export async function serve(options: EndpointOptions): Promise<void> {
  const endpoint = await startEndpoint(options);
  process.stderr.write(
    `tether endpoint on ${endpoint.url} (node ${endpoint.nodeId})\n` +
      `admin API token: ${join(resolve(options.dataDir), 'admin.token')}\n`,
  );
  await untilSignal();
  await endpoint.close();
}

/** What `npm start` runs: the endpoint, demo people, and a local agent enrolled into Demo Co. */
export async function demo(options: {
  dataDir: string;
  listen: { host: string; port: number };
  logLevel?: string;
}) {
  const dataDir = resolve(options.dataDir);
  const logFile = join(dataDir, 'tether.log');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logger = pino(
    { level: options.logLevel ?? 'info' },
    pino.destination({ dest: logFile, append: true, mkdir: true }),
  );

  const endpoint = await startEndpoint({ dataDir, listen: options.listen, logger });
  const credentialsFile = await seedDemo(endpoint.services, dataDir);
  const { startAgent } = await import('@tether/agent');
  const agentState = join(dataDir, 'agent');
  const hasIdentity = existsSync(join(agentState, 'identity.json'));
  const joinToken = hasIdentity ? undefined : await demoJoinToken(endpoint);
  const agent = await startAgent({
    endpoint: endpoint.url,
    joinToken,
    stateDir: agentState,
    name: DEMO_AGENT_NAME,
    logger: logger.child({ app: 'tether-agent' }),
  });

  process.stdout.write(
    [
      '',
      `Tether is running at ${endpoint.url}`,
      `  sign-in credentials: ${credentialsFile}`,
      `  local agent:         ${agent.identity.name} (${agent.agentId}) in account ${DEMO_ACCOUNT}`,
      `  logs:                ${logFile}`,
      '',
      'In another terminal:',
      `  export TETHER_URL=${endpoint.url} TETHER_TOKEN=${endpoint.adminToken}`,
      `  npx tether exec ${agent.identity.name} -- uname -a`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await untilSignal();
  process.stdout.write('stopping…\n');
  await agent.close();
  await endpoint.close();
}

/** Creates the demo account and people once; later starts find them and change nothing. */
async function seedDemo(s: Services, dataDir: string): Promise<string> {
  const file = join(dataDir, 'demo-credentials.txt');
  const seeded = await s.db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', DEMO_MARK)
    .executeTakeFirst();
  if (seeded && existsSync(file)) return file;

  const account =
    (await s.people.findAccount(DEMO_ACCOUNT)) ?? (await s.people.createAccount(DEMO_ACCOUNT));
  const people = [
    {
      username: 'customer',
      role: 'customer' as const,
      displayName: 'Dana Customer',
      accountId: account.id,
    },
    { username: 'manager', role: 'manager' as const, displayName: 'Morgan Manager' },
    {
      username: 'engineer',
      role: 'engineer' as const,
      displayName: 'Eli Engineer',
      manager: 'manager',
    },
  ];
  const lines = [
    `# Tether demo sign-ins (created ${new Date().toISOString()}); keep this file private`,
  ];
  const adminPassword = password();
  const admin = await s.people.findUser('admin');
  if (admin) {
    const { hashPassword } = await import('./auth/secrets.ts');
    await s.db
      .updateTable('users')
      .set({ password_hash: await hashPassword(adminPassword) })
      .where('id', '=', admin.id)
      .execute();
    lines.push(`admin     ${adminPassword}`);
  }
  for (const person of people) {
    const secret = password();
    const managerId = person.manager ? (await s.people.findUser(person.manager))?.id : undefined;
    const existing = await s.people.findUser(person.username);
    if (existing) {
      const { hashPassword } = await import('./auth/secrets.ts');
      await s.db
        .updateTable('users')
        .set({ password_hash: await hashPassword(secret) })
        .where('id', '=', existing.id)
        .execute();
    } else {
      const created = await s.people.createUser({ ...person, password: secret, managerId });
      await s.audit.append({
        kind: 'userCreated',
        accountId: person.accountId ?? null,
        params: { userId: created.id, username: person.username, role: person.role },
      });
    }
    lines.push(`${person.username.padEnd(9)} ${secret}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  await s.db
    .insertInto('settings')
    .values({ key: DEMO_MARK, value: new Date().toISOString() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  process.stdout.write(
    `\nDemo sign-ins (shown once, also in ${file}):\n${lines
      .slice(1)
      .map((l) => `  ${l}`)
      .join('\n')}\n`,
  );
  return file;
}

async function demoJoinToken(endpoint: RunningEndpoint): Promise<string> {
  const s = endpoint.services;
  const account = await s.people.findAccount(DEMO_ACCOUNT);
  const { token } = await s.joinTokens.create(account!.id, null, 600, 1);
  return token;
}

function password(): string {
  return randomBytes(12).toString('base64url');
}

function untilSignal(): Promise<void> {
  return new Promise((resolveSignal) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolveSignal();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export function readTokenFile(dataDir: string): string {
  return readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
}
