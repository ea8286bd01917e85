/** The visibility matrix: every role × every kind of record × own / same account / another's. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';
import {
  approvalScope,
  canEndFileSession,
  canEndForward,
  canSeeFileEvent,
  canSeeFileSession,
  canSeeForward,
  canUseFileSession,
  canUseForward,
  fileEventScope,
  fileSessionScope,
  forwardScope,
  canDecideApproval,
  canDriveTerminal,
  canEndTerminal,
  canSeeApproval,
  canWatchTerminal,
  terminalScope,
  accountScope,
  agentScope,
  auditScope,
  canCloseTicket,
  canSeeAgent,
  canSeeAuditEvent,
  canSeeQueueExit,
  canSeeTicket,
  joinTokenScope,
  may,
  ticketScope,
  type Action,
} from './visibility.ts';

const NOW = '2025-01-01T00:00:00.000Z';

const PEOPLE = {
  admin: person('u-admin', 'admin', null),
  manager: person('u-manager', 'manager', null, ['u-eng']),
  engineer: person('u-eng', 'engineer', null),
  customer: person('u-cust', 'customer', 'acme'),
  accountless: person('u-lost', 'customer', null),
  unknownRole: person('u-odd', 'auditor' as Role, null),
} satisfies Record<string, Principal>;

type Who = keyof typeof PEOPLE;

/** Actors: u-eng reports to u-manager, u-eng2 does not; u-cust2 shares acme with u-cust. */
const EVENTS = {
  'admin-none': { actor_id: 'u-admin', account_id: null },
  'manager-acme': { actor_id: 'u-manager', account_id: 'acme' },
  'eng-acme': { actor_id: 'u-eng', account_id: 'acme' },
  'eng-globex': { actor_id: 'u-eng', account_id: 'globex' },
  'eng2-acme': { actor_id: 'u-eng2', account_id: 'acme' },
  'eng2-globex': { actor_id: 'u-eng2', account_id: 'globex' },
  'cust-acme': { actor_id: 'u-cust', account_id: 'acme' },
  'cust2-acme': { actor_id: 'u-cust2', account_id: 'acme' },
  'custg-globex': { actor_id: 'u-custg', account_id: 'globex' },
  'system-acme': { actor_id: null, account_id: 'acme' },
} satisfies Record<string, { actor_id: string | null; account_id: string | null }>;

const AUDIT_ROWS: Array<{ name: string; who: Who; event: keyof typeof EVENTS; sees: boolean }> = [
  { name: 'admin sees its own event', who: 'admin', event: 'admin-none', sees: true },
  { name: "admin sees an engineer's event", who: 'admin', event: 'eng-acme', sees: true },
  { name: "admin sees another account's event", who: 'admin', event: 'custg-globex', sees: true },
  { name: 'admin sees a system event', who: 'admin', event: 'system-acme', sees: true },

  { name: 'manager sees its own event', who: 'manager', event: 'manager-acme', sees: true },
  { name: "manager sees its report's event", who: 'manager', event: 'eng-acme', sees: true },
  {
    name: "manager sees its report's other-account event",
    who: 'manager',
    event: 'eng-globex',
    sees: true,
  },
  {
    name: "manager does not see a non-report's event",
    who: 'manager',
    event: 'eng2-acme',
    sees: false,
  },
  {
    name: "manager does not see a non-report's other-account event",
    who: 'manager',
    event: 'eng2-globex',
    sees: false,
  },
  {
    name: "manager does not see a customer's event",
    who: 'manager',
    event: 'cust-acme',
    sees: false,
  },
  {
    name: "manager does not see another account's event",
    who: 'manager',
    event: 'custg-globex',
    sees: false,
  },
  {
    name: 'manager does not see a system event',
    who: 'manager',
    event: 'system-acme',
    sees: false,
  },
  {
    name: "manager does not see an admin's event",
    who: 'manager',
    event: 'admin-none',
    sees: false,
  },

  { name: 'engineer sees its own event', who: 'engineer', event: 'eng-acme', sees: true },
  {
    name: 'engineer sees its own other-account event',
    who: 'engineer',
    event: 'eng-globex',
    sees: true,
  },
  {
    name: "engineer does not see a colleague's event",
    who: 'engineer',
    event: 'eng2-acme',
    sees: false,
  },
  {
    name: "engineer does not see its manager's event",
    who: 'engineer',
    event: 'manager-acme',
    sees: false,
  },
  {
    name: "engineer does not see a customer's event",
    who: 'engineer',
    event: 'cust-acme',
    sees: false,
  },
  {
    name: "engineer does not see another account's event",
    who: 'engineer',
    event: 'custg-globex',
    sees: false,
  },
  {
    name: 'engineer does not see a system event',
    who: 'engineer',
    event: 'system-acme',
    sees: false,
  },

  { name: 'customer sees its own event', who: 'customer', event: 'cust-acme', sees: true },
  {
    name: "customer sees a same-account customer's event",
    who: 'customer',
    event: 'cust2-acme',
    sees: true,
  },
  {
    name: "customer sees an engineer's event on its account",
    who: 'customer',
    event: 'eng-acme',
    sees: true,
  },
  {
    name: 'customer sees a system event on its account',
    who: 'customer',
    event: 'system-acme',
    sees: true,
  },
  {
    name: "customer does not see another account's event",
    who: 'customer',
    event: 'custg-globex',
    sees: false,
  },
  {
    name: "customer does not see an engineer's event elsewhere",
    who: 'customer',
    event: 'eng-globex',
    sees: false,
  },
  {
    name: "customer does not see an admin's accountless event",
    who: 'customer',
    event: 'admin-none',
    sees: false,
  },

  {
    name: 'customer without an account sees nothing',
    who: 'accountless',
    event: 'system-acme',
    sees: false,
  },
  { name: 'an unknown role sees nothing', who: 'unknownRole', event: 'eng-acme', sees: false },
];

const AGENTS = { 'agent-acme': 'acme', 'agent-globex': 'globex' } as const;

const AGENT_ROWS: Array<{ name: string; who: Who; agent: keyof typeof AGENTS; sees: boolean }> = [
  { name: 'admin sees an acme agent', who: 'admin', agent: 'agent-acme', sees: true },
  { name: 'admin sees a globex agent', who: 'admin', agent: 'agent-globex', sees: true },
  { name: 'manager sees an acme agent', who: 'manager', agent: 'agent-acme', sees: true },
  { name: 'manager sees a globex agent', who: 'manager', agent: 'agent-globex', sees: true },
  { name: 'engineer sees an acme agent', who: 'engineer', agent: 'agent-acme', sees: true },
  { name: 'engineer sees a globex agent', who: 'engineer', agent: 'agent-globex', sees: true },
  {
    name: "customer sees its own account's agent",
    who: 'customer',
    agent: 'agent-acme',
    sees: true,
  },
  {
    name: "customer does not see another account's agent",
    who: 'customer',
    agent: 'agent-globex',
    sees: false,
  },
  {
    name: 'customer without an account sees no agent',
    who: 'accountless',
    agent: 'agent-acme',
    sees: false,
  },
  { name: 'an unknown role sees no agent', who: 'unknownRole', agent: 'agent-acme', sees: false },
];

const TOKENS = {
  'token-own': { account_id: 'acme', created_by: 'u-cust' },
  'token-colleague': { account_id: 'acme', created_by: 'u-admin' },
  'token-globex': { account_id: 'globex', created_by: 'u-custg' },
} as const;

const TOKEN_ROWS: Array<{ name: string; who: Who; token: keyof typeof TOKENS; sees: boolean }> = [
  { name: 'admin sees a token on acme', who: 'admin', token: 'token-own', sees: true },
  { name: 'admin sees a token on globex', who: 'admin', token: 'token-globex', sees: true },
  {
    name: 'manager does not see a token on acme',
    who: 'manager',
    token: 'token-colleague',
    sees: false,
  },
  {
    name: 'engineer does not see a token on acme',
    who: 'engineer',
    token: 'token-colleague',
    sees: false,
  },
  { name: 'customer sees its own token', who: 'customer', token: 'token-own', sees: true },
  {
    name: "customer sees someone else's token on its account",
    who: 'customer',
    token: 'token-colleague',
    sees: true,
  },
  {
    name: "customer does not see another account's token",
    who: 'customer',
    token: 'token-globex',
    sees: false,
  },
];

const ACCOUNT_ROWS: Array<{ name: string; who: Who; account: string; sees: boolean }> = [
  { name: 'admin sees acme', who: 'admin', account: 'acme', sees: true },
  { name: 'admin sees globex', who: 'admin', account: 'globex', sees: true },
  { name: 'manager sees globex', who: 'manager', account: 'globex', sees: true },
  { name: 'engineer sees globex', who: 'engineer', account: 'globex', sees: true },
  { name: 'customer sees its own account', who: 'customer', account: 'acme', sees: true },
  {
    name: 'customer does not see another account',
    who: 'customer',
    account: 'globex',
    sees: false,
  },
];

/** Tickets: u-eng reports to u-manager, u-eng2 does not. */
const TICKETS = {
  'ticket-open-acme': { account_id: 'acme', status: 'open', assignee_id: null },
  'ticket-open-globex': { account_id: 'globex', status: 'open', assignee_id: null },
  'ticket-eng-acme': { account_id: 'acme', status: 'taken', assignee_id: 'u-eng' },
  'ticket-eng2-acme': { account_id: 'acme', status: 'taken', assignee_id: 'u-eng2' },
  'ticket-eng-closed-globex': { account_id: 'globex', status: 'closed', assignee_id: 'u-eng' },
} satisfies Record<
  string,
  { account_id: string; status: 'open' | 'taken' | 'closed'; assignee_id: string | null }
>;

type TicketId = keyof typeof TICKETS;

const TICKET_ROWS: Array<{ name: string; who: Who; ticket: TicketId; sees: boolean }> = [
  {
    name: "admin sees a colleague's taken ticket",
    who: 'admin',
    ticket: 'ticket-eng2-acme',
    sees: true,
  },
  {
    name: 'admin sees a closed ticket',
    who: 'admin',
    ticket: 'ticket-eng-closed-globex',
    sees: true,
  },
  { name: 'manager sees the open queue', who: 'manager', ticket: 'ticket-open-acme', sees: true },
  {
    name: "manager sees its report's ticket",
    who: 'manager',
    ticket: 'ticket-eng-acme',
    sees: true,
  },
  {
    name: "manager sees its report's closed ticket",
    who: 'manager',
    ticket: 'ticket-eng-closed-globex',
    sees: true,
  },
  {
    name: "manager does not see a non-report's ticket",
    who: 'manager',
    ticket: 'ticket-eng2-acme',
    sees: false,
  },
  { name: 'engineer sees the open queue', who: 'engineer', ticket: 'ticket-open-acme', sees: true },
  {
    name: 'engineer sees the queue of every account',
    who: 'engineer',
    ticket: 'ticket-open-globex',
    sees: true,
  },
  {
    name: 'engineer sees the ticket it took',
    who: 'engineer',
    ticket: 'ticket-eng-acme',
    sees: true,
  },
  {
    name: 'engineer sees the ticket it closed',
    who: 'engineer',
    ticket: 'ticket-eng-closed-globex',
    sees: true,
  },
  {
    name: "engineer does not see a colleague's taken ticket",
    who: 'engineer',
    ticket: 'ticket-eng2-acme',
    sees: false,
  },
  {
    name: 'customer sees its open ticket',
    who: 'customer',
    ticket: 'ticket-open-acme',
    sees: true,
  },
  {
    name: "customer sees its account's ticket whoever works it",
    who: 'customer',
    ticket: 'ticket-eng2-acme',
    sees: true,
  },
  {
    name: "customer does not see another account's open ticket",
    who: 'customer',
    ticket: 'ticket-open-globex',
    sees: false,
  },
  {
    name: "customer does not see another account's closed ticket",
    who: 'customer',
    ticket: 'ticket-eng-closed-globex',
    sees: false,
  },
  {
    name: 'customer without an account sees no ticket',
    who: 'accountless',
    ticket: 'ticket-open-acme',
    sees: false,
  },
  {
    name: 'an unknown role sees no ticket',
    who: 'unknownRole',
    ticket: 'ticket-open-acme',
    sees: false,
  },
];

const CLOSE_ROWS: Array<{ name: string; who: Who; ticket: TicketId; may: boolean }> = [
  { name: 'admin may close an open ticket', who: 'admin', ticket: 'ticket-open-acme', may: true },
  {
    name: 'engineer may close the ticket it took',
    who: 'engineer',
    ticket: 'ticket-eng-acme',
    may: true,
  },
  {
    name: "engineer may not close a colleague's ticket",
    who: 'engineer',
    ticket: 'ticket-eng2-acme',
    may: false,
  },
  {
    name: 'engineer may not close an open ticket',
    who: 'engineer',
    ticket: 'ticket-open-acme',
    may: false,
  },
  {
    name: "manager may close its report's ticket",
    who: 'manager',
    ticket: 'ticket-eng-acme',
    may: true,
  },
  {
    name: "manager may not close a non-report's ticket",
    who: 'manager',
    ticket: 'ticket-eng2-acme',
    may: false,
  },
  {
    name: 'customer may not close its own ticket',
    who: 'customer',
    ticket: 'ticket-eng-acme',
    may: false,
  },
];

/** Staff saw every ticket while it was open, so they may learn that one left the queue. */
const QUEUE_EXIT_ROWS: Array<{ name: string; who: Who; sees: boolean }> = [
  { name: 'admin learns a ticket left the queue', who: 'admin', sees: true },
  { name: 'manager learns a ticket left the queue', who: 'manager', sees: true },
  { name: 'engineer learns a ticket left the queue', who: 'engineer', sees: true },
  { name: 'customer is not told about the queue', who: 'customer', sees: false },
  { name: 'an unknown role is not told about the queue', who: 'unknownRole', sees: false },
];

type Reach = 'all' | 'own' | 'none';

/** The brief's rules, written independently of the module: admin, manager, engineer, customer. */
const ACTION_RULES: Array<[Action, Reach, Reach, Reach, Reach]> = [
  ['agent.read', 'all', 'all', 'all', 'own'],
  ['agent.exec', 'all', 'all', 'all', 'own'],
  ['agent.revoke', 'all', 'none', 'none', 'own'],
  ['join_token.create', 'all', 'none', 'none', 'own'],
  ['join_token.read', 'all', 'none', 'none', 'own'],
  ['join_token.revoke', 'all', 'none', 'none', 'own'],
  ['account.create', 'all', 'none', 'none', 'none'],
  ['account.read', 'all', 'all', 'all', 'own'],
  ['user.create', 'all', 'none', 'none', 'none'],
  ['user.read', 'all', 'all', 'all', 'own'],
  ['audit.read', 'all', 'all', 'all', 'all'],
  ['audit.verify', 'all', 'none', 'none', 'none'],
  ['ticket.create', 'all', 'none', 'none', 'own'],
  ['ticket.take', 'all', 'all', 'all', 'none'],
  ['chat.write', 'all', 'all', 'all', 'own'],
  ['consent.update', 'all', 'none', 'none', 'own'],
  ['approval.decide', 'none', 'none', 'none', 'own'],
  ['terminal.request', 'all', 'all', 'all', 'none'],
  ['files.read.request', 'all', 'all', 'all', 'none'],
  ['files.write.request', 'all', 'all', 'all', 'none'],
  ['forward.request', 'all', 'all', 'all', 'none'],
  ['forward.open', 'all', 'all', 'all', 'own'],
  ['files.self_service', 'none', 'none', 'none', 'own'],
];

const TARGETS = [
  { label: "the customer's own account", target: { accountId: 'acme' }, own: true },
  { label: 'another account', target: { accountId: 'globex' }, own: false },
  { label: 'no particular account', target: undefined, own: true },
];

const ACTION_ROWS = ACTION_RULES.flatMap(([action, ...reaches]) =>
  (['admin', 'manager', 'engineer', 'customer'] as const).flatMap((who, i) =>
    TARGETS.map(({ label, target, own }) => {
      const allowed = reaches[i] === 'all' || (reaches[i] === 'own' && own);
      const verb = allowed ? 'may' : 'may not';
      return { name: `${who} ${verb} ${action} on ${label}`, who, action, target, allowed };
    }),
  ),
);

describe('visibility - actions', () => {
  it.each(named(ACTION_ROWS))('visibility - %s', (_, { who, action, target, allowed }) => {
    expect(may(PEOPLE[who], action, target)).toBe(allowed);
  });

  it('visibility - a customer without an account may not act on an accountless target', () => {
    expect(may(PEOPLE.accountless, 'agent.exec', { accountId: null })).toBe(false);
  });

  it('visibility - an unknown role may do nothing', () => {
    expect(may(PEOPLE.unknownRole, 'audit.read')).toBe(false);
  });
});

describe('visibility - tickets', () => {
  it.each(named(CLOSE_ROWS))('visibility - %s', (_, { who, ticket, may: allowed }) => {
    expect(canCloseTicket(PEOPLE[who], TICKETS[ticket])).toBe(allowed);
  });

  it.each(named(QUEUE_EXIT_ROWS))('visibility - %s', (_, { who, sees }) => {
    expect(canSeeQueueExit(PEOPLE[who])).toBe(sees);
  });
});

describe.each(storeBackends())('visibility on $name', (backend) => {
  let store: TestStore;

  beforeAll(async () => {
    store = await backend.open();
    await seed(store);
  });

  afterAll(async () => {
    await store?.cleanup();
  });

  it.each(named(AUDIT_ROWS))('visibility - %s', async (_, { who, event, sees }) => {
    const p = PEOPLE[who];
    const found = await store.db
      .selectFrom('audit_events')
      .select('id')
      .where(auditScope(p))
      .where('id', '=', event)
      .execute();
    expect(canSeeAuditEvent(p, EVENTS[event])).toBe(sees);
    expect(found.length === 1).toBe(sees);
  });

  it.each(named(AGENT_ROWS))('visibility - %s', async (_, { who, agent, sees }) => {
    const p = PEOPLE[who];
    const found = await store.db
      .selectFrom('agents')
      .select('id')
      .where(agentScope(p))
      .where('id', '=', agent)
      .execute();
    expect(canSeeAgent(p, { account_id: AGENTS[agent] })).toBe(sees);
    expect(found.length === 1).toBe(sees);
  });

  it.each(named(TOKEN_ROWS))('visibility - %s', async (_, { who, token, sees }) => {
    const p = PEOPLE[who];
    const found = await store.db
      .selectFrom('join_tokens')
      .select('id')
      .where(joinTokenScope(p))
      .where('id', '=', token)
      .execute();
    expect(may(p, 'join_token.read', { accountId: TOKENS[token].account_id })).toBe(sees);
    expect(found.length === 1).toBe(sees);
  });

  it.each(named(ACCOUNT_ROWS))('visibility - %s', async (_, { who, account, sees }) => {
    const p = PEOPLE[who];
    const found = await store.db
      .selectFrom('accounts')
      .select('id')
      .where(accountScope(p))
      .where('id', '=', account)
      .execute();
    expect(may(p, 'account.read', { accountId: account })).toBe(sees);
    expect(found.length === 1).toBe(sees);
  });

  it.each(named(TICKET_ROWS))('visibility - %s', async (_, { who, ticket, sees }) => {
    const p = PEOPLE[who];
    const found = await store.db
      .selectFrom('tickets')
      .select('id')
      .where(ticketScope(p))
      .where('id', '=', ticket)
      .execute();
    expect(canSeeTicket(p, TICKETS[ticket])).toBe(sees);
    expect(found.length === 1).toBe(sees);
  });
});

/** `[name, row]` pairs, so that `%s` prints each row's name as it is written. */
function named<T extends { name: string }>(rows: T[]): Array<[string, T]> {
  return rows.map((row) => [row.name, row]);
}

function person(
  userId: string,
  role: Role,
  accountId: string | null,
  reportIds: string[] = [],
): Principal {
  return { userId, username: userId.slice(2), role, accountId, reportIds };
}

async function seed(store: TestStore): Promise<void> {
  const { db } = store;
  await db
    .insertInto('accounts')
    .values(['acme', 'globex'].map((id) => ({ id, name: id, created_at: NOW })))
    .execute();

  await db
    .insertInto('agents')
    .values(
      Object.entries(AGENTS).map(([id, account_id]) => ({
        id,
        name: id,
        account_id,
        public_key: `ssh-ed25519 ${id}`,
        os: 'linux',
        arch: 'x64',
        version: '0.1.0',
        enrolled_at: NOW,
      })),
    )
    .execute();

  await db
    .insertInto('join_tokens')
    .values(
      Object.entries(TOKENS).map(([id, token]) => ({
        id,
        token_hash: `hash-${id}`,
        ...token,
        created_at: NOW,
        expires_at: NOW,
        max_uses: 1,
        uses: 0,
      })),
    )
    .execute();

  await db
    .insertInto('audit_events')
    .values(
      Object.entries(EVENTS).map(([id, who], i) => ({
        seq: i + 1,
        id,
        time: NOW,
        code: 'T3000I',
        event: 'exec',
        ...who,
        actor_name: who.actor_id,
        actor_role: null,
        agent_id: null,
        ticket_id: null,
        session_id: null,
        params: '{}',
        result: '{}',
        prev_hash: '',
        hash: '',
      })),
    )
    .execute();

  await db
    .insertInto('tickets')
    .values(
      Object.entries(TICKETS).map(([id, ticket]) => ({
        id,
        ...ticket,
        agent_id: `agent-${ticket.account_id}`,
        title: id,
        question: id,
        created_by: 'u-cust',
        created_at: NOW,
      })),
    )
    .execute();
}

/** Approvals and terminal sessions: u-eng asked (and runs the session) on acme. */
const CONSENT = {
  'eng-acme': { account_id: 'acme', requester_id: 'u-eng', engineer_id: 'u-eng' },
  'eng2-acme': { account_id: 'acme', requester_id: 'u-eng2', engineer_id: 'u-eng2' },
  'eng-globex': { account_id: 'globex', requester_id: 'u-eng', engineer_id: 'u-eng' },
} as const;

/** who, record, then: sees the approval, decides it, watches the session, ends it, types. */
const CONSENT_RULES: Array<
  [Who, keyof typeof CONSENT, boolean, boolean, boolean, boolean, boolean]
> = [
  ['admin', 'eng-acme', true, false, true, true, false],
  ['manager', 'eng-acme', true, false, true, false, false],
  ['manager', 'eng2-acme', false, false, false, false, false],
  ['engineer', 'eng-acme', true, false, true, true, true],
  ['engineer', 'eng2-acme', false, false, false, false, false],
  ['engineer', 'eng-globex', true, false, true, true, true],
  ['customer', 'eng-acme', true, true, true, true, false],
  ['customer', 'eng2-acme', true, true, true, true, false],
  ['customer', 'eng-globex', false, false, false, false, false],
  ['accountless', 'eng-acme', false, false, false, false, false],
  ['unknownRole', 'eng-acme', false, false, false, false, false],
];

const CONSENT_ROWS = CONSENT_RULES.map(([who, record, sees, decides, watches, ends, types]) => ({
  name: `${who} on ${record}: sees ${sees}, decides ${decides}, watches ${watches}, ends ${ends}, types ${types}`,
  who,
  record,
  expected: { sees, decides, watches, ends, types },
}));

describe('visibility - approvals and terminal sessions', () => {
  it.each(named(CONSENT_ROWS))('visibility - %s', (_, { who, record, expected }) => {
    const p = PEOPLE[who];
    const row = CONSENT[record];
    expect({
      sees: canSeeApproval(p, row),
      decides: canDecideApproval(p, row),
      watches: canWatchTerminal(p, row),
      ends: canEndTerminal(p, row),
      types: canDriveTerminal(p, row),
    }).toEqual(expected);
  });

  it('visibility - a customer never decides a request they made themselves', () => {
    const own = { account_id: 'acme', requester_id: 'u-cust' };
    expect(canDecideApproval(PEOPLE.customer, own)).toBe(false);
  });

  it.each(storeBackends().map((b) => [b.name, b] as const))(
    'visibility - approval and terminal scopes match the predicates on %s',
    async (_, backend) => {
      const store = await backend.open();
      try {
        for (const [id, row] of Object.entries(CONSENT)) {
          await store.db
            .insertInto('approval_requests')
            .values({
              ...{ id, account_id: row.account_id, agent_id: 'a', ticket_id: null },
              ...{ requester_id: row.requester_id, action: 'terminal', status: 'pending' },
              ...{ decided_by: null, decided_at: null, created_at: NOW, expires_at: NOW },
              session_id: null,
            })
            .execute();
          await store.db
            .insertInto('terminal_sessions')
            .values({
              ...{ id, agent_id: 'a', account_id: row.account_id, ticket_id: null },
              ...{ approval_id: id, engineer_id: row.engineer_id, node_id: 'n', status: 'live' },
              ...{ started_at: NOW, ended_at: null, ended_by: null, end_reason: null },
              ...{ cols: 80, rows: 24, recording: `${id}.cast`, bytes_out: 0, bytes_in: 0 },
            })
            .execute();
        }
        for (const [who, p] of Object.entries(PEOPLE)) {
          const approvals = await store.db
            .selectFrom('approval_requests')
            .select('id')
            .where(approvalScope(p))
            .execute();
          const sessions = await store.db
            .selectFrom('terminal_sessions')
            .select('id')
            .where(terminalScope(p))
            .execute();
          const ids = Object.keys(CONSENT) as Array<keyof typeof CONSENT>;
          const seeing = ids.filter((id) => canSeeApproval(p, CONSENT[id])).sort();
          const watching = ids.filter((id) => canWatchTerminal(p, CONSENT[id])).sort();
          expect([who, approvals.map((r) => r.id).sort()]).toEqual([who, seeing]);
          expect([who, sessions.map((r) => r.id).sort()]).toEqual([who, watching]);
        }
      } finally {
        await store.cleanup();
      }
    },
  );
});

/** File sessions (and their history): u-eng opened one on acme, u-eng2 one on acme, u-cust one. */
const FILE_SESSIONS = {
  'eng-acme': { account_id: 'acme', user_id: 'u-eng' },
  'eng2-acme': { account_id: 'acme', user_id: 'u-eng2' },
  'eng-globex': { account_id: 'globex', user_id: 'u-eng' },
  'cust-acme': { account_id: 'acme', user_id: 'u-cust' },
} as const;

/** who, session, then: sees it (and its events), works in it, ends it. */
const FILE_RULES: Array<[Who, keyof typeof FILE_SESSIONS, boolean, boolean, boolean]> = [
  ['admin', 'eng-acme', true, false, true],
  ['manager', 'eng-acme', true, false, false],
  ['manager', 'eng2-acme', false, false, false],
  ['manager', 'cust-acme', false, false, false],
  ['engineer', 'eng-acme', true, true, true],
  ['engineer', 'eng2-acme', false, false, false],
  ['engineer', 'eng-globex', true, true, true],
  ['engineer', 'cust-acme', false, false, false],
  ['customer', 'eng-acme', true, false, true],
  ['customer', 'cust-acme', true, true, true],
  ['customer', 'eng-globex', false, false, false],
  ['accountless', 'eng-acme', false, false, false],
  ['unknownRole', 'eng-acme', false, false, false],
];

describe('visibility - file sessions and file history', () => {
  it.each(
    named(
      FILE_RULES.map(([who, record, sees, works, ends]) => ({
        name: `${who} on ${record}: sees ${sees}, works ${works}, ends ${ends}`,
        who,
        record,
        expected: { sees, events: sees, works, ends },
      })),
    ),
  )('visibility - %s', (_, { who, record, expected }) => {
    const p = PEOPLE[who];
    const row = FILE_SESSIONS[record];
    expect({
      sees: canSeeFileSession(p, row),
      events: canSeeFileEvent(p, row),
      works: canUseFileSession(p, row),
      ends: canEndFileSession(p, row),
    }).toEqual(expected);
  });

  it.each(storeBackends().map((b) => [b.name, b] as const))(
    'visibility - file session and file event scopes match the predicates on %s',
    async (_, backend) => {
      const store = await backend.open();
      try {
        for (const [id, row] of Object.entries(FILE_SESSIONS)) {
          await store.db
            .insertInto('file_sessions')
            .values({
              ...{ id, agent_id: 'a', account_id: row.account_id, ticket_id: null },
              ...{ user_id: row.user_id, username: row.user_id, can_write: 0, status: 'live' },
              ...{ read_approval_id: null, write_approval_id: null, started_at: NOW },
              ...{ ended_at: null, ended_by: null, end_reason: null, roots: '[]' },
              ...{ cwd_b64: null, open_b64: null, open_hash: null },
            })
            .execute();
          await store.db
            .insertInto('file_events')
            .values({
              ...{ id, created_at: NOW, agent_id: 'a', account_id: row.account_id },
              ...{ ticket_id: null, session_id: id, user_id: row.user_id, username: 'x' },
              ...{ code: 'T8210I', kind: 'list', path_b64: 'Lw==', to_path_b64: null },
              ...{ before_hash: null, after_hash: null, bytes: null, diff: null, detail: null },
            })
            .execute();
        }
        const ids = Object.keys(FILE_SESSIONS) as Array<keyof typeof FILE_SESSIONS>;
        for (const [who, p] of Object.entries(PEOPLE)) {
          const sessions = await store.db
            .selectFrom('file_sessions')
            .select('id')
            .where(fileSessionScope(p))
            .execute();
          const events = await store.db
            .selectFrom('file_events')
            .select('id')
            .where(fileEventScope(p))
            .execute();
          const seeing = ids.filter((id) => canSeeFileSession(p, FILE_SESSIONS[id])).sort();
          expect([who, sessions.map((r) => r.id).sort()]).toEqual([who, seeing]);
          expect([who, events.map((r) => r.id).sort()]).toEqual([who, seeing]);
        }
      } finally {
        await store.cleanup();
      }
    },
  );
});

/** Port forwards: u-eng opened two (acme, globex), u-eng2 one, u-cust one on its own server. */
const FORWARDS = {
  'eng-acme': { account_id: 'acme', user_id: 'u-eng' },
  'eng2-acme': { account_id: 'acme', user_id: 'u-eng2' },
  'eng-globex': { account_id: 'globex', user_id: 'u-eng' },
  'cust-acme': { account_id: 'acme', user_id: 'u-cust' },
} as const;

/** who, forward, then: sees it, ends it, connects through it (or holds it). */
const FORWARD_RULES: Array<[Who, keyof typeof FORWARDS, boolean, boolean, boolean]> = [
  ['admin', 'eng-acme', true, true, false],
  ['manager', 'eng-acme', true, false, false],
  ['manager', 'eng2-acme', false, false, false],
  ['engineer', 'eng-acme', true, true, true],
  ['engineer', 'eng-globex', true, true, true],
  ['engineer', 'eng2-acme', false, false, false],
  ['engineer', 'cust-acme', false, false, false],
  ['customer', 'eng-acme', true, true, false],
  ['customer', 'cust-acme', true, true, true],
  ['customer', 'eng-globex', false, false, false],
  ['accountless', 'eng-acme', false, false, false],
  ['unknownRole', 'eng-acme', false, false, false],
];

describe('visibility - port forwards', () => {
  it.each(
    named(
      FORWARD_RULES.map(([who, record, sees, ends, uses]) => ({
        name: `${who} on ${record}: sees ${sees}, ends ${ends}, uses ${uses}`,
        who,
        record,
        expected: { sees, ends, uses },
      })),
    ),
  )('visibility - %s', (_, { who, record, expected }) => {
    const p = PEOPLE[who];
    const row = FORWARDS[record];
    // Ending or using a forward one cannot see is answered 404 before these are asked.
    expect({
      sees: canSeeForward(p, row),
      ends: canSeeForward(p, row) && canEndForward(p, row),
      uses: canSeeForward(p, row) && canUseForward(p, row),
    }).toEqual(expected);
  });

  it.each(storeBackends().map((b) => [b.name, b] as const))(
    'visibility - the forward scope matches the predicate on %s',
    async (_, backend) => {
      const store = await backend.open();
      try {
        for (const [id, row] of Object.entries(FORWARDS))
          await store.db
            .insertInto('forwards')
            .values({
              ...{ id, agent_id: 'a', account_id: row.account_id, ticket_id: null },
              ...{ approval_id: null, user_id: row.user_id, username: row.user_id },
              ...{ host: '127.0.0.1', port: 5432, target: '127.0.0.1:5432', listed: 0 },
              ...{ status: 'live', created_at: NOW, ended_at: null, ended_by: null },
              ...{ end_reason: null, lease_until: NOW },
            })
            .execute();
        for (const [who, p] of Object.entries(PEOPLE)) {
          const found = await store.db
            .selectFrom('forwards')
            .select('id')
            .where(forwardScope(p))
            .execute();
          const ids = Object.keys(FORWARDS) as Array<keyof typeof FORWARDS>;
          const seeing = ids.filter((id) => canSeeForward(p, FORWARDS[id])).sort();
          expect([who, found.map((r) => r.id).sort()]).toEqual([who, seeing]);
        }
      } finally {
        await store.cleanup();
      }
    },
  );
});
