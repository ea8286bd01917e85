/**
 * The support site in a real browser: Debian's chromium driven by playwright-core, against a
 * real endpoint serving the built site, with real agents. Screenshots of each step go to a
 * folder the test prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startHarness, type Harness } from '../../endpoint/src/testing/harness.ts';
import {
  buildSite,
  launchChromium,
  PASSWORD,
  screenshotsFolder,
  SiteBrowser,
  skipBrowserTests,
  WEB_DIR,
} from './browser.ts';

describe.skipIf(skipBrowserTests)('support site in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let site: SiteBrowser;
  let webId: string;

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

    browser = await launchChromium();
    site = new SiteBrowser(browser, harness.url, screenshotsFolder('tether-site-e2e'));
  }, 60_000);

  afterAll(async () => {
    await site?.close();
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

  const newPage = () => site.page({ width: 1280, height: 800 });
  const shot = (page: Page, name: string) => site.shot(page, name);

  /** Up to the filled-in sign-in form: the tests press the button themselves. */
  async function signIn(page: Page, username: string) {
    await page.goto(`${harness.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Tether' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
  }

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

  it('site - the customer denies a terminal asked for from the server page; a command shows in the summary', async () => {
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
    expect(await customerPage.getByRole('button', { name: 'Take' }).count()).toBe(0);
    expect(await customerPage.getByRole('button', { name: 'Close' }).count()).toBe(0);
    const ticketPath = new URL(customerPage.url()).pathname;

    const engineer = await newPage();
    await signIn(engineer, 'erin');
    await engineer.getByRole('button', { name: 'Sign in' }).click();
    await engineer.getByRole('heading', { name: 'Servers' }).waitFor();
    await engineer.goto(`${harness.url}${ticketPath}`);
    await engineer.getByRole('button', { name: 'Take' }).click();
    await expect
      .poll(() => engineer.getByTestId('ticket-status').textContent())
      .toBe('Being worked');

    // From the server's page, with no request: the customer is asked wherever they are.
    await customerPage.goto(`${harness.url}/servers`);
    await engineer.goto(`${harness.url}/servers/${webId}`);
    await engineer.getByRole('button', { name: 'Open terminal' }).click();
    await engineer.getByText('Waiting for the customer to approve…').waitFor();
    const prompt = customerPage.getByTestId('approval-prompt');
    await prompt.getByText('erin asks for a terminal').waitFor();
    await prompt.getByRole('link', { name: 'web-1' }).waitFor();
    expect(await prompt.getByRole('link', { name: 'this support request' }).count()).toBe(0);
    await prompt.getByText(/\d+ s left$/).waitFor();
    await shot(customerPage, '15b-consent-prompt');
    await prompt.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => prompt.count()).toBe(0);
    await engineer
      .getByTestId('approval-refused')
      .getByText('The customer denied the request.')
      .waitFor();
    await shot(engineer, '15c-engineer-denied');

    // A command the engineer runs while the request is theirs goes into its summary.
    const ran = await engineer.request.post(`${harness.url}/api/v1/agents/${webId}/exec`, {
      data: { argv: ['sh', '-c', 'exit 2'] },
    });
    expect(ran.status()).toBe(200);
    await customerPage.goto(`${harness.url}${ticketPath}`);
    await engineer.goto(`${harness.url}${ticketPath}`);

    // Closing asks first; Cancel leaves the request as it was.
    await engineer.getByRole('button', { name: 'Close' }).click();
    const confirm = engineer.getByRole('dialog', { name: 'Close this support request?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => confirm.count()).toBe(0);
    expect(await engineer.getByTestId('ticket-status').textContent()).toBe('Being worked');
    await engineer.getByRole('button', { name: 'Close' }).click();
    await confirm.getByRole('button', { name: 'Close request' }).click();
    await expect.poll(() => engineer.getByTestId('ticket-status').textContent()).toBe('Closed');
    await expect.poll(() => customerPage.getByTestId('ticket-status').textContent()).toBe('Closed');
    const summary = customerPage.getByTestId('summary');
    await summary.getByText('exit 2', { exact: true }).waitFor();
    await summary.getByText(/sh -c .exit 2/).waitFor();
    await shot(customerPage, '16-ticket-closed-summary');
  });

  it('site - the chat shows the newest messages and pages back through older ones', async () => {
    const ann = (await harness.api('GET', '/api/v1/users')).body.users.find(
      (u: { username: string }) => u.username === 'ann',
    );
    const { token } = await harness.endpoint.services.people.createApiToken(ann.id, 'e2e-chat');
    // 60 on a fresh server: a page is 50, so ten wait behind "Load older messages".
    const pagedId = (await harness.agent('Acme Hosting', 'chatty')).agentId;
    for (let i = 1; i <= 60; i++) {
      const posted = await harness.api(
        'POST',
        `/api/v1/agents/${pagedId}/chat`,
        { body: `message ${String(i).padStart(2, '0')}` },
        token,
      );
      expect(posted.status).toBe(200);
    }
    const page = await newPage();
    await signIn(page, 'ann');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    await page.goto(`${harness.url}/tickets`);
    await page.getByRole('button', { name: 'Open a support request' }).first().click();
    await page.getByRole('textbox', { name: 'Server' }).click();
    await page.getByRole('option', { name: 'chatty' }).click();
    await page.getByLabel(/^Subject/).fill('Chatty server');
    await page.getByLabel(/^What do you need help with/).fill('Lots to say.');
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.getByRole('link', { name: 'Chatty server' }).click();

    const chat = page.getByTestId('chat-messages');
    const lines = chat.getByTestId('chat-message');
    await chat.getByText('message 60').waitFor();
    await expect.poll(() => lines.count()).toBe(50);
    expect(await chat.getByText('message 10', { exact: true }).count()).toBe(0);
    await chat.getByText('message 11', { exact: true }).waitFor();
    await shot(page, '17-chat-newest-page');
    await page.getByRole('button', { name: 'Load older messages' }).click();
    await expect.poll(() => lines.count()).toBe(60);
    await chat.getByText('message 01', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Load older messages' }).count()).toBe(0);
    // Oldest first, each once.
    const texts = (await lines.allInnerTexts()).map((t) => /message (\d+)/.exec(t)![1]);
    expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => String(i + 1).padStart(2, '0')));
    // A new message still arrives live below them.
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('message 61');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => lines.count()).toBe(61);
    await shot(page, '18-chat-older-loaded');
  });

  it('site - the pages ran under the CSP with nothing refused', () => {
    expect(site.cspViolations).toEqual([]);
  });
});
