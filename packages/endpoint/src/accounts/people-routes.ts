/** REST for people: sign-in, sessions, API tokens, accounts and users. */
import { z } from 'zod';
import { displayName, lookupName, Role, TetherError } from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { accountScope, userScope } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import { readCookie, SESSION_COOKIE, sessionCookie } from '../auth/cookies.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { SESSION_TTL_SECONDS } from './people.ts';

const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 60 * 60;
const username = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits and . _ @ - only');

/** Ten wrong passwords per user and address in five minutes, then wait (OWASP's advice). */
const SIGN_IN_FAILURES_PER_WINDOW = 10;
const SIGN_IN_WINDOW_MS = 5 * 60_000;

export function peopleRoutes(api: Api, s: Services): void {
  const failures = new RateLimiter(
    SIGN_IN_FAILURES_PER_WINDOW,
    SIGN_IN_WINDOW_MS,
    'failed sign-ins',
  );
  api.route({
    method: 'POST',
    url: '/api/v1/login',
    summary: 'Sign in with a password; sets the session cookie',
    tag: 'people',
    public: true,
    body: z.strictObject({
      username: z.string().min(1).max(64),
      password: z.string().min(1).max(1024),
    }),
    handler: async ({ body, reply, request }) => {
      const key = `${request.ip}|${body.username.toLowerCase()}`;
      // Blocked attempts are refused before any password check and not audited one by one.
      failures.check(key);
      const user = await s.people.signIn(body.username, body.password);
      if (!user) {
        failures.count(key);
        await s.audit.append({
          kind: 'userLoginFailed',
          params: { username: body.username, remoteAddr: request.ip },
        });
        throw new TetherError('unauthorized', 'wrong username or password');
      }
      const cookie = await s.people.createSession(user.id);
      reply.header('set-cookie', sessionCookie(cookie, SESSION_TTL_SECONDS, s.secure));
      await s.audit.append({
        kind: 'userLogin',
        actor: { id: user.id, name: user.username, role: user.role },
        accountId: user.account_id,
        params: { remoteAddr: request.ip },
      });
      return { user: userView(user) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/logout',
    summary: 'End the browser session',
    tag: 'people',
    handler: async ({ principal, request, reply }) => {
      const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (cookie) await s.people.endSession(cookie);
      reply.header('set-cookie', sessionCookie('', 0, s.secure));
      await s.audit.append({
        kind: 'userLogout',
        actor: actorOf(principal),
        accountId: principal.accountId,
      });
      return { ok: true };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/me',
    summary: 'Who the caller is',
    tag: 'people',
    handler: async ({ principal }) => {
      const user = await s.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', principal.userId)
        .executeTakeFirstOrThrow();
      return { user: userView(user) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/api-tokens',
    summary: 'Create a bearer token for the caller (shown once)',
    tag: 'people',
    body: z.strictObject({
      name: z.string().min(1).max(200),
      ttlSeconds: z.number().int().positive().max(MAX_TOKEN_TTL_SECONDS).optional(),
    }),
    handler: async ({ principal, body }) => {
      const created = await s.people.createApiToken(
        principal.userId,
        body.name,
        body.ttlSeconds,
        principal.tokenExpiresAt,
      );
      await s.audit.append({
        kind: 'apiTokenCreated',
        actor: actorOf(principal),
        accountId: principal.accountId,
        params: { tokenId: created.id, name: body.name, ttlSeconds: body.ttlSeconds },
      });
      return created;
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/api-tokens',
    summary: "The caller's API tokens (admins: everyone's); never the secret",
    tag: 'people',
    handler: async ({ principal }) => {
      const rows = await s.people.listApiTokens(
        principal.role === 'admin' ? null : principal.userId,
      );
      await s.audit.append({
        kind: 'apiTokensListed',
        actor: actorOf(principal),
        accountId: principal.accountId,
        result: { count: rows.length },
      });
      return {
        apiTokens: rows.map((r) => ({
          id: r.id,
          userId: r.user_id,
          name: r.name,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          revokedAt: r.revoked_at,
        })),
      };
    },
  });

  api.route({
    method: 'DELETE',
    url: '/api/v1/api-tokens/:id',
    summary: "Revoke an API token (your own; admins: anyone's)",
    tag: 'people',
    params: z.strictObject({ id: z.string().min(1).max(64) }),
    handler: async ({ principal, params }) => {
      const row = await s.db
        .selectFrom('api_tokens')
        .select(['id', 'user_id'])
        .where('id', '=', params.id)
        .executeTakeFirst();
      if (!row || (principal.role !== 'admin' && row.user_id !== principal.userId)) {
        await s.guard.denied(
          principal,
          'api_token.revoke',
          { tokenId: params.id },
          principal.accountId,
        );
        throw new TetherError('not_found', 'no such API token');
      }
      await s.people.revokeApiToken(row.id);
      await s.audit.append({
        kind: 'apiTokenRevoked',
        actor: actorOf(principal),
        accountId: principal.accountId,
        params: { tokenId: row.id, userId: row.user_id },
      });
      return { id: row.id, revoked: true };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/users/:id/disable',
    summary: 'Disable a user: their sessions end and their tokens are revoked (admin)',
    tag: 'people',
    params: z.strictObject({ id: z.string().min(1).max(64) }),
    handler: async ({ principal, params }) => {
      await s.guard.require(principal, 'user.create');
      const user = await s.db
        .selectFrom('users')
        .select(['id', 'username', 'account_id'])
        .where('id', '=', params.id)
        .executeTakeFirst();
      if (!user) throw new TetherError('not_found', 'no such user');
      if (user.id === principal.userId)
        throw new TetherError('invalid_request', 'you cannot disable yourself');
      await s.people.disableUser(user.id);
      await s.audit.append({
        kind: 'userDisabled',
        actor: actorOf(principal),
        accountId: user.account_id,
        params: { userId: user.id, username: user.username },
      });
      return { user: { id: user.id, disabled: true } };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/accounts',
    summary: 'Accounts the caller may see',
    tag: 'people',
    handler: async ({ principal }) => {
      const rows = await s.db
        .selectFrom('accounts')
        .selectAll()
        .where(accountScope(principal) as never)
        .orderBy('name')
        .execute();
      await s.audit.append({
        kind: 'accountsListed',
        actor: actorOf(principal),
        accountId: principal.accountId,
        result: { count: rows.length },
      });
      return { accounts: rows.map((a) => ({ id: a.id, name: a.name, createdAt: a.created_at })) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/accounts',
    summary: 'Create a customer account (admin)',
    tag: 'people',
    body: z.strictObject({ name: lookupName(200) }),
    handler: async ({ principal, body }) => {
      await s.guard.require(principal, 'account.create');
      const account = await s.people.createAccount(body.name);
      await s.audit.append({
        kind: 'accountCreated',
        actor: actorOf(principal),
        accountId: account.id,
        params: { name: body.name },
      });
      return { account };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/users',
    summary: 'Create a user (admin)',
    tag: 'people',
    body: z.strictObject({
      username,
      displayName: displayName(200).optional(),
      role: Role,
      password: z.string().min(12).max(1024).optional(),
      account: z.string().min(1).max(200).optional(),
      manager: z.string().min(1).max(64).optional(),
    }),
    handler: async ({ principal, body }) => {
      await s.guard.require(principal, 'user.create');
      const account = body.account ? await s.people.findAccount(body.account) : undefined;
      if (body.account && !account)
        throw new TetherError('not_found', `no account ${JSON.stringify(body.account)}`);
      const manager = body.manager ? await s.people.findUser(body.manager) : undefined;
      if (body.manager && manager?.role !== 'manager')
        throw new TetherError('invalid_request', 'manager must name a user with the manager role');
      const user = await s.people.createUser({
        username: body.username,
        displayName: body.displayName,
        role: body.role,
        password: body.password,
        accountId: account?.id ?? null,
        managerId: manager?.id ?? null,
      });
      await s.audit.append({
        kind: 'userCreated',
        actor: actorOf(principal),
        accountId: account?.id ?? null,
        params: {
          userId: user.id,
          username: body.username,
          role: body.role,
          password: body.password,
        },
      });
      return { user };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/users',
    summary: 'Users the caller may see',
    tag: 'people',
    handler: async ({ principal }) => {
      const rows = await s.db
        .selectFrom('users')
        .selectAll()
        .where(userScope(principal) as never)
        .orderBy('username')
        .execute();
      await s.audit.append({
        kind: 'usersListed',
        actor: actorOf(principal),
        accountId: principal.accountId,
        result: { count: rows.length },
      });
      return { users: rows.map(userView) };
    },
  });
}

function userView(user: {
  id: string;
  username: string;
  display_name: string;
  role: string;
  account_id: string | null;
  manager_id: string | null;
}) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.display_name,
    role: user.role,
    accountId: user.account_id,
    managerId: user.manager_id,
  };
}
