/**
 * The support site in a real browser: Debian's chromium driven by playwright-core, against a
 * real endpoint serving the built site, with real agents. Screenshots of each step go to a
 * folder the test prints.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startHarness, type Harness } from '../../endpoint/src/testing/harness.ts';
import {
  buildSite,
  launchChromium,
  PASSWORD,
  screenshotsFolder,
  skipBrowserTests,
  STEP_TIMEOUT_MS,
  WEB_DIR,
} from './browser.ts';

describe.skipIf(skipBrowserTests)('support site in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let shots: string;
  let webId: string;
  const cspViolations: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    buildSite();

    harness = await startHarness({ webDir: WEB_DIR });
    await harness.account('Acme Hosting');
    await harness.account('Other Co');
    await customer('ann', 'Ann Acme', 'Acme Hosting');
    await customer('otto', 'Otto Other', 'Other Co');
    await person('erin', 'Erin Engineer', 'engineer');
    webId = (await harness.agent('Acme Hosting', 'web-1')).agentId;
    await harness.agent('Other Co', 'db-other');

    shots = screenshotsFolder('tether-site-e2e');
    browser = await launchChromium();
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

  it('site - customer and engineer chat live on a ticket, the engineer closes it with a summary', async () => {
    const customerPage = await newPage();
    await signIn(customerPage, 'ann');
    await customerPage.getByRole('button', { name: 'Sign in' }).click();
    await customerPage.getByRole('heading', { name: 'Servers' }).waitFor();
    // The customer's consent settings sit under their servers.
    await customerPage.getByRole('heading', { name: 'Terminal consent' }).waitFor();
    await customerPage.getByLabel('Ask me every time').waitFor();
    await shot(customerPage, '13-consent-settings');
    await customerPage.goto(`${harness.url}/tickets`);
    await customerPage.getByRole('button', { name: 'Open a support request' }).first().click();
    await customerPage.getByRole('textbox', { name: 'Server' }).click();
    await customerPage.getByRole('option', { name: 'web-1' }).click();
    await customerPage.getByLabel(/^Subject/).fill('Disk full on web-1');
    await customerPage.getByLabel(/^What do you need help with/).fill('/var is at 100%.');
    await customerPage.getByRole('button', { name: 'Send request' }).click();
    await customerPage.getByRole('link', { name: 'Disk full on web-1' }).click();
    await customerPage.getByRole('heading', { name: 'Disk full on web-1', level: 1 }).waitFor();
    await customerPage.getByTestId('ticket-question').getByText('/var is at 100%.').waitFor();
    await expect
      .poll(() => customerPage.getByTestId('ticket-status').textContent())
      .toBe('Waiting');
    expect(await customerPage.getByRole('button', { name: 'Take' }).count()).toBe(0);
    expect(await customerPage.getByRole('button', { name: 'Close' }).count()).toBe(0);
    await expect.poll(() => customerPage.getByTestId('chat-state').textContent()).toBe('Live');
    const ticketPath = new URL(customerPage.url()).pathname;

    const engineer = await newPage();
    await signIn(engineer, 'erin');
    await engineer.getByRole('button', { name: 'Sign in' }).click();
    await engineer.getByRole('heading', { name: 'Servers' }).waitFor();
    await engineer.goto(`${harness.url}/tickets`);
    await engineer.getByRole('link', { name: 'Disk full on web-1' }).click();
    await engineer.getByRole('heading', { name: 'Disk full on web-1', level: 1 }).waitFor();
    expect(new URL(engineer.url()).pathname).toBe(ticketPath);
    await engineer.getByRole('button', { name: 'Take' }).click();
    await expect
      .poll(() => engineer.getByTestId('ticket-status').textContent())
      .toBe('Being worked');
    await expect
      .poll(() => customerPage.getByTestId('ticket-status').textContent())
      .toBe('Being worked');
    await expect.poll(() => engineer.getByTestId('chat-state').textContent()).toBe('Live');

    // Both ways, live, and markup arrives as text.
    await customerPage
      .getByRole('textbox', { name: 'Message', exact: true })
      .fill('<b>hi</b> can you look?');
    await customerPage.getByRole('button', { name: 'Send', exact: true }).click();
    const engineerChat = engineer.getByTestId('chat-messages');
    await engineerChat.getByText('<b>hi</b> can you look?').waitFor();
    expect(await engineerChat.locator('b').count()).toBe(0);
    await engineerChat.getByText('Ann Acme').waitFor();
    await engineer
      .getByRole('textbox', { name: 'Message', exact: true })
      .fill('On it, cleaning /var/log.');
    await engineer.getByRole('button', { name: 'Send', exact: true }).click();
    const customerChat = customerPage.getByTestId('chat-messages');
    await customerChat.getByText('On it, cleaning /var/log.').waitFor();
    await customerChat.getByText('Erin Engineer').waitFor();
    expect(await customerChat.locator('b').count()).toBe(0);
    await shot(customerPage, '14-ticket-chat-customer');
    await shot(engineer, '15-ticket-chat-engineer');

    // The engineer asks for a terminal: the customer is asked wherever they are, and denies.
    await customerPage.goto(`${harness.url}/servers`);
    const ticketId = ticketPath.split('/').pop()!;
    const asked = await engineer.request.post(
      `${harness.url}/api/v1/agents/${webId}/terminal-requests`,
      { data: { ticket: ticketId } },
    );
    expect(asked.status()).toBe(200);
    const approvalId = ((await asked.json()) as { approval: { id: string } }).approval.id;
    const prompt = customerPage.getByTestId('approval-prompt');
    await prompt.getByText('erin asks for a terminal').waitFor();
    await prompt.getByRole('link', { name: 'web-1' }).waitFor();
    await prompt.getByRole('link', { name: 'this support request' }).waitFor();
    await prompt.getByText(/\d+ s left$/).waitFor();
    await shot(customerPage, '15b-consent-prompt');
    await prompt.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => prompt.count()).toBe(0);
    const decided = await engineer.request.get(`${harness.url}/api/v1/approvals/${approvalId}`);
    expect(((await decided.json()) as { approval: { status: string } }).approval.status).toBe(
      'denied',
    );
    await customerPage.goto(`${harness.url}${ticketPath}`);
    await customerPage.getByRole('heading', { name: 'Disk full on web-1', level: 1 }).waitFor();

    // A command the engineer runs while the ticket is theirs goes into the summary.
    const ran = await engineer.request.post(`${harness.url}/api/v1/agents/${webId}/exec`, {
      data: { argv: ['sh', '-c', 'exit 2'] },
    });
    expect(ran.status()).toBe(200);

    await engineer.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => engineer.getByTestId('ticket-status').textContent()).toBe('Closed');
    await expect.poll(() => customerPage.getByTestId('ticket-status').textContent()).toBe('Closed');
    const summary = customerPage.getByTestId('summary');
    await summary.getByText('exit 2', { exact: true }).waitFor();
    await summary.getByText(/sh -c .exit 2/).waitFor();
    await shot(customerPage, '16-ticket-closed-summary');
  });

  it('site - the pages ran under the CSP with nothing refused', () => {
    expect(cspViolations).toEqual([]);
  });
});
