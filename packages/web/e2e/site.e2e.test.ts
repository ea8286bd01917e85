/**
 * The support site in a real browser: Debian's chromium driven by playwright-core, against a
 * real endpoint serving the built site, with real agents. Screenshots of each step go to a
 * folder the test prints.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startHarness, type Harness } from '../../endpoint/src/testing/harness.ts';

const CHROMIUM = '/usr/bin/chromium';
/** The flags VERIFIED.md and the machine notes give; playwright adds --headless and a fresh profile. */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = resolve(import.meta.dirname, '../../..');
const WEB_DIR = join(ROOT, 'packages/web/dist');
const PASSWORD = 'correct horse battery';
const STEP_TIMEOUT_MS = 15_000;

const present = existsSync(CHROMIUM);
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (!present && !ci) {
  console.log(
    `site e2e: skipped, ${CHROMIUM} is absent (apt-get install -y chromium; CI=true runs it)`,
  );
}

describe.skipIf(!present && !ci)('support site in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let shots: string;
  let webId: string;
  const cspViolations: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // A no-op when the site is already built from the current sources (CI builds it first).
    const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs')], {
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`web build failed:\n${build.stdout}${build.stderr}`);

    harness = await startHarness({ webDir: WEB_DIR });
    await harness.account('Acme Hosting');
    await harness.account('Other Co');
    await customer('ann', 'Ann Acme', 'Acme Hosting');
    await customer('otto', 'Otto Other', 'Other Co');
    await person('erin', 'Erin Engineer', 'engineer');
    webId = (await harness.agent('Acme Hosting', 'web-1')).agentId;
    await harness.agent('Other Co', 'db-other');

    shots = process.env.TETHER_E2E_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'tether-site-e2e-'));
    mkdirSync(shots, { recursive: true });
    console.log(`site e2e: screenshots in ${shots}`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await harness?.close();
  });

  async function customer(username: string, displayName: string, account: string) {
    await person(username, displayName, 'customer', account);
  }

  async function person(username: string, displayName: string, role: string, account?: string) {
    const created = await harness.api('POST', '/api/v1/users', {
      username,
      displayName,
      role,
      account,
      password: PASSWORD,
    });
    expect(created.status).toBe(200);
  }

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    await context.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        console.log(
          `CSP refused ${e.violatedDirective}: ${e.sample} at ${e.sourceFile}:${e.lineNumber}`,
        ),
      ),
    );
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('console', (message) => {
      if (/content security policy|^CSP refused/i.test(message.text()))
        cspViolations.push(message.text());
    });
    return page;
  }

  async function signIn(page: Page, username: string) {
    await page.goto(`${harness.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Tether' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  it('site - a customer signs in, adds a server, and watches a command on it live', async () => {
    const page = await newPage();

    await signIn(page, 'ann');
    await shot(page, '01-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    const who = page.getByTestId('signed-in-user');
    await expect.poll(() => who.textContent()).toBe('Signed in asAnn AcmeCustomer');
    const row = page.getByRole('row', { name: /web-1/ });
    await row.getByText('Online').waitFor();
    expect(await page.getByText('db-other').count()).toBe(0);
    await shot(page, '02-servers');

    await page.getByRole('button', { name: 'Add a server' }).click();
    await page.getByRole('button', { name: 'Create install command' }).click();
    const command = await page.getByTestId('install-command').textContent();
    expect(command).toContain('/install.sh');
    expect(command).toMatch(/--join-token '?tjt_/);
    await page.getByText(/The token works once and expires in/).waitFor();
    await shot(page, '03-add-server');
    await page.getByRole('button', { name: 'Done' }).click();

    await page.getByRole('link', { name: 'web-1' }).click();
    await page.getByRole('heading', { name: 'web-1', level: 1 }).waitFor();
    await page.getByText('web-1 connected').first().waitFor();
    await expect.poll(() => page.getByTestId('live-state').textContent()).toBe('Live');
    await shot(page, '04-server');

    // HTML and an escape sequence in the command must arrive as text, not markup or colour.
    const script = 'echo "<img src=x onerror=alert(1)>"; printf "\\033[31mred"; exit 3';
    const ran = await harness.api('POST', `/api/v1/agents/${webId}/exec`, {
      argv: ['sh', '-c', script],
    });
    expect(ran.body.exitCode).toBe(3);
    const activity = page.getByTestId('activity');
    await activity.getByText('admin ran a command').waitFor();
    await shot(page, '05-live-command');
    await activity.getByText('exit 3', { exact: true }).waitFor();
    await activity.getByText('<img src=x onerror=alert(1)>', { exact: false }).waitFor();
    expect(await activity.locator('img').count()).toBe(0);
    await shot(page, '05-live-command');

    // A phone: the navigation folds behind a button, the table scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Open navigation' }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Servers' }).waitFor();
    await shot(page, '06-phone-navigation');
    await nav.getByRole('link', { name: 'Servers' }).click();
    await page.getByRole('row', { name: /web-1/ }).waitFor();
    await shot(page, '07-phone-servers');
  });

  it("site - another account's customer sees only their own servers", async () => {
    const page = await newPage();

    await signIn(page, 'otto');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('row', { name: /db-other/ })
      .getByText('Online')
      .waitFor();
    expect(await page.getByText('web-1').count()).toBe(0);
    await shot(page, '08-other-customer');

    await page.goto(`${harness.url}/servers/${webId}`);
    await page.getByText('Cannot show this server').waitFor();
    expect(await page.getByText('web-1').count()).toBe(0);
    await shot(page, '09-other-customer-direct-link');
  });

  it('site - a request the customer opens appears live in the queue and the engineer takes it', async () => {
    const engineer = await newPage();
    await signIn(engineer, 'erin');
    await engineer.getByRole('button', { name: 'Sign in' }).click();
    await engineer
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Support requests' })
      .click();
    await engineer.getByText('Nobody is waiting').waitFor();

    const customerPage = await newPage();
    await signIn(customerPage, 'ann');
    await customerPage.getByRole('button', { name: 'Sign in' }).click();
    await customerPage.getByRole('heading', { name: 'Servers' }).waitFor();
    await customerPage.goto(`${harness.url}/tickets`);
    await customerPage.getByRole('button', { name: 'Open a support request' }).first().click();
    await customerPage.getByRole('textbox', { name: 'Server' }).click();
    await customerPage.getByRole('option', { name: 'web-1' }).click();
    await customerPage.getByLabel(/^Subject/).fill('Site is down <b>since 9</b>');
    await customerPage.getByLabel(/^What do you need help with/).fill('nginx answers 502.');
    await shot(customerPage, '10-open-request');
    await customerPage.getByRole('button', { name: 'Send request' }).click();
    await customerPage
      .getByRole('table', { name: 'Support requests' })
      .getByText('Waiting')
      .waitFor();

    // No reload: the live 'tickets' topic brings it into the engineer's queue.
    const queued = engineer.getByRole('row', { name: /Site is down <b>since 9<\/b>/ });
    await queued.waitFor();
    await shot(engineer, '11-engineer-queue');
    await queued.getByRole('button', { name: /^Take/ }).click();
    await engineer.getByText('Nobody is waiting').waitFor();

    await customerPage
      .getByRole('table', { name: 'Support requests' })
      .getByText('Being worked')
      .waitFor();
    await customerPage.getByText('Erin Engineer').waitFor();
    await shot(customerPage, '12-customer-request-taken');
  });

  it('site - the pages ran under the CSP with nothing refused', () => {
    expect(cspViolations).toEqual([]);
  });
});
