/** `tether login` and `tether whoami`: get an API token for this machine, and show who you are. */
import { hostname } from 'node:os';
import { Command } from 'commander';
import { Client } from './client.ts';
import { configPath, normalizeUrl, saveConfig } from './config.ts';
import { clientFor, withConnection } from './context.ts';
import { ApiError, UsageError } from './errors.ts';
import { formatJson } from './output.ts';
import { ask, askSecret, readSecretStdin } from './prompt.ts';

const LOGIN_HELP = `
Signs in with your username and password, creates an API token named "cli on <host>" and
saves the URL and token in $XDG_CONFIG_HOME/tether/config.json (mode 0600). Later commands use
them unless --url/--token or TETHER_URL/TETHER_TOKEN say otherwise.

Examples:
  tether login https://support.example.com
  pass show tether | tether login https://support.example.com --username alice --password-stdin`;

interface Me {
  username: string;
  role: string;
  displayName?: string;
  accountId?: string | null;
  accountName?: string | null;
}

export function loginCommand(): Command {
  return new Command('login')
    .description('sign in to an endpoint and save an API token for this machine')
    .argument('<url>', 'endpoint URL, e.g. https://support.example.com')
    .option('--username <name>', 'your username (asked for when omitted)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .addHelpText('after', LOGIN_HELP)
    .action(async (urlText: string, options) => {
      const url = normalizeUrl(urlText);
      const username = options.username ?? (await askUsername());
      if (!username) throw new UsageError('a username is needed');
      const password = options.passwordStdin ? await readSecretStdin() : await askPassword();
      if (!password) throw new UsageError('a password is needed');
      const token = await createToken(new Client(url), username, password);

      const path = configPath();
      await saveConfig(path, { url, token });
      process.stdout.write(`signed in to ${url} as ${username}; token saved in ${path}\n`);
    });
}

export function whoamiCommand(): Command {
  return withConnection(new Command('whoami'), { json: true })
    .description('show who the endpoint thinks you are')
    .action(async (options) => {
      const client = await clientFor(options);
      const doing = 'asking who you are';
      const body = await client.get<Me | { user: Me }>('/api/v1/me', { doing });
      const me = 'user' in body ? body.user : body;
      if (options.json) return void process.stdout.write(formatJson(me));
      const account = me.accountName ?? me.accountId;
      const who = account ? `${me.role}, account ${account}` : me.role;
      process.stdout.write(`${me.username} (${who}) at ${client.url}\n`);
    });
}

/** Signs in with a password, mints an API token with that session, then ends the session. */
async function createToken(client: Client, username: string, password: string): Promise<string> {
  let cookie: string;
  try {
    const signedIn = await client.send('POST', '/api/v1/login', {
      body: { username, password },
      doing: 'signing in',
    });
    cookie = cookieHeader(signedIn.headers.getSetCookie());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      throw new UsageError('sign-in refused: wrong username or password', { cause: error });
    }
    throw error;
  }
  if (!cookie) throw new UsageError('the endpoint signed you in but set no session cookie');

  // A cookie-authenticated request from outside a browser still names its origin, as one would.
  const headers = { cookie, origin: new URL(client.url).origin };
  const created = await client.post<{ token: string }>(
    '/api/v1/api-tokens',
    { name: `cli on ${hostname()}` },
    { headers, doing: 'creating an API token' },
  );
  await client.post('/api/v1/logout', {}, { headers }).catch(() => {
    // The session expires on its own; failing to end it early loses nothing the user needs.
  });
  return created.token;
}

/** `Set-Cookie` values reduced to the `name=value` pairs a `Cookie` header carries. */
export function cookieHeader(setCookies: readonly string[]): string {
  return setCookies
    .map((line) => line.split(';')[0].trim())
    .filter(Boolean)
    .join('; ');
}

async function askUsername(): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask on: pass --username');
  return ask('username: ');
}

async function askPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError('no terminal to ask for a password on: pipe it in with --password-stdin');
  }
  return askSecret('password: ');
}
