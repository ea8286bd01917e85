/**
 * The browser terminal in Debian's chromium against a real endpoint and agent: an engineer asks,
 * the customer approves, both see the same screen, only the engineer drives, the customer ends
 * it, and the recording plays. Screenshots of each step go to a folder the test prints.
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

describe.skipIf(skipBrowserTests)('browser terminal in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let shots: string;
  let webId: string;
  let annToken: string;
  const cspViolations: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    buildSite();

    harness = await startHarness({ webDir: WEB_DIR });
    await harness.account('Acme Hosting');
    const ann = await person('ann', 'Ann Acme', 'customer', 'Acme Hosting');
    await person('erin', 'Erin Engineer', 'engineer');
    annToken = (await harness.endpoint.services.people.createApiToken(ann, 'e2e')).token;
    webId = (await harness.agent('Acme Hosting', 'web-1')).agentId;

    shots = screenshotsFolder('tether-terminal-e2e');
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await harness?.close();
  });

  async function person(username: string, displayName: string, role: string, account?: string) {
    const created = await harness.api('POST', '/api/v1/users', {
      username,
      displayName,
      role,
      account,
      password: PASSWORD,
    });
    expect(created.status).toBe(200);
    return created.body.user.id as string;
  }

  async function signedIn(username: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
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
    await page.goto(`${harness.url}/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  /** The terminal's visible lines, trimmed. */
  const screenLines = async (page: Page): Promise<string[]> =>
    (await page.locator('.xterm-rows').innerText()).split('\n').map((l) => l.trim());

  it('terminal - approve, both see 42, the watcher cannot type, the customer ends it, it plays back', async () => {
    const engineer = await signedIn('erin');
    await engineer.goto(`${harness.url}/servers/${webId}`);
    await engineer.getByRole('heading', { name: 'web-1', level: 1 }).waitFor();
    await engineer.getByRole('button', { name: 'Open terminal' }).click();
    await engineer.getByText('Waiting for the customer to approve…').waitFor();
    await shot(engineer, 't01-waiting-for-approval');

    const approval = new URL(engineer.url()).searchParams.get('approval')!;
    const decided = await harness.api(
      'POST',
      `/api/v1/approvals/${approval}/approve`,
      undefined,
      annToken,
    );
    expect(decided.body.approval.status).toBe('approved');

    await engineer.waitForURL(/\/terminals\/(?!new)[^/?]+$/);
    const session = new URL(engineer.url()).pathname.split('/')[2]!;
    await expect.poll(() => engineer.getByTestId('terminal-state').textContent()).toBe('Live');
    await engineer.locator('.xterm-helper-textarea').focus();
    await engineer.keyboard.type('echo $((6*7))');
    await engineer.keyboard.press('Enter');
    await expect.poll(() => screenLines(engineer)).toContain('42');
    await shot(engineer, 't02-engineer-42');

    const customer = await signedIn('ann');
    await customer.goto(`${harness.url}/terminals/${session}`);
    await customer.getByText('Read-only: you are watching').waitFor();
    await expect.poll(() => screenLines(customer)).toContain('42');
    await shot(customer, 't03-customer-watching');

    // The watcher's keys go nowhere: neither screen shows them.
    await customer.locator('.xterm-helper-textarea').focus();
    await customer.keyboard.type('echo from-the-watcher');
    await customer.keyboard.press('Enter');
    await engineer.keyboard.type('echo still-$((1+1))');
    await engineer.keyboard.press('Enter');
    await expect.poll(() => screenLines(customer)).toContain('still-2');
    expect((await screenLines(engineer)).join('\n')).not.toContain('from-the-watcher');
    expect((await screenLines(customer)).join('\n')).not.toContain('from-the-watcher');

    await customer.getByRole('button', { name: 'End session' }).click();
    await customer.getByText('Ended by ann').waitFor();
    await engineer.getByText('Ended by ann').waitFor();
    await shot(engineer, 't04-engineer-ended');
    await shot(customer, 't05-customer-ended');

    await customer.getByRole('link', { name: 'Play the recording' }).click();
    await customer.waitForURL(/\/playback$/);
    const player = customer.getByTestId('playback');
    await player.locator('.ap-player').waitFor();
    await customer
      .getByRole('button', { name: /approved/ })
      .first()
      .waitFor();
    await player.click();
    await expect
      .poll(async () => (await player.innerText()).split('\n').map((l) => l.trim()), {
        timeout: 20_000,
      })
      .toContain('42');
    await shot(customer, 't06-playback');

    await customer.goto(`${harness.url}/servers/${webId}`);
    await customer
      .getByRole('table', { name: 'Terminal sessions' })
      .locator('tbody')
      .getByText('Ended')
      .waitFor();
    await shot(customer, 't07-server-sessions');
  }, 120_000);

  it('terminal - the pages ran under the CSP with nothing refused', () => {
    expect(cspViolations).toEqual([]);
  });
});
