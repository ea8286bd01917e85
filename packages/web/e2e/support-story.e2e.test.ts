/**
 * The support-terminal story in Debian's chromium, through the site only, against a real
 * endpoint and a real agent: the customer asks for help, an engineer takes the request, they
 * chat both ways, the engineer opens a terminal, the customer accepts in the consent prompt,
 * the engineer's `echo $((6*7))` shows 42 on both screens, the customer's keys change nothing,
 * the customer ends the session, the engineer closes the request, and the recording plays 42.
 * Screenshots of each step go to a folder the test prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { castEvents } from '../../endpoint/src/testing/cast-replay.ts';
import { startHarness, type Harness } from '../../endpoint/src/testing/harness.ts';
import {
  buildSite,
  launchChromium,
  PASSWORD,
  screenshotsFolder,
  SiteBrowser,
  skipBrowserTests,
  terminalLines,
  WEB_DIR,
} from './browser.ts';

/** The agent's shell is $SHELL: plain sh, so no rc file of this machine decides the prompt. */
process.env.SHELL = '/bin/sh';

const SUBJECT = 'Checkout is slow <b>since 9</b>';

describe.skipIf(skipBrowserTests)('support story in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let site: SiteBrowser;

  beforeAll(async () => {
    buildSite();
    harness = await startHarness({ webDir: WEB_DIR });
    await harness.account('Acme Hosting');
    await person('ann', 'Ann Acme', 'customer', 'Acme Hosting');
    await person('erin', 'Erin Engineer', 'engineer');
    await harness.agent('Acme Hosting', 'web-1');
    browser = await launchChromium();
    site = new SiteBrowser(browser, harness.url, screenshotsFolder('tether-support-story'));
  }, 90_000);

  afterAll(async () => {
    await site?.close();
    await browser?.close();
    await harness?.close();
  });

  async function person(username: string, displayName: string, role: string, account?: string) {
    const body = { username, displayName, role, account, password: PASSWORD };
    expect((await harness.api('POST', '/api/v1/users', body)).status).toBe(200);
  }

  const status = (page: Page) => page.getByTestId('ticket-status').textContent();
  const playerLines = async (page: Page) =>
    (await page.getByTestId('playback').innerText()).split('\n').map((l) => l.trim());

  it('story - request, take, chat, terminal with consent, 42 on both screens, end, close, playback', async () => {
    // The customer asks for help.
    const customer = await site.signedIn('ann');
    await customer
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Support requests' })
      .click();
    await customer.getByRole('button', { name: 'Open a support request' }).first().click();
    await customer.getByRole('textbox', { name: 'Server' }).click();
    await customer.getByRole('option', { name: 'web-1' }).click();
    await customer.getByLabel(/^Subject/).fill(SUBJECT);
    await customer.getByLabel(/^What do you need help with/).fill('Pages take 10 s since 9 am.');
    await site.shot(customer, 's01-customer-opens-request');
    await customer.getByRole('button', { name: 'Send request' }).click();
    await customer.getByRole('link', { name: SUBJECT }).click();
    await customer.getByRole('heading', { name: SUBJECT, level: 1 }).waitFor();
    await expect.poll(() => status(customer)).toBe('Waiting');

    // The engineer sees it arrive in the queue and takes it.
    const engineer = await site.signedIn('erin');
    await engineer
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Support requests' })
      .click();
    const queued = engineer.getByRole('row', { name: /Checkout is slow/ });
    await queued.waitFor();
    await site.shot(engineer, 's02-engineer-queue');
    await queued.getByRole('link', { name: SUBJECT }).click();
    await engineer.getByRole('heading', { name: SUBJECT, level: 1 }).waitFor();
    await engineer.getByRole('button', { name: 'Take' }).click();
    await expect.poll(() => status(engineer)).toBe('Being worked');
    await expect.poll(() => status(customer)).toBe('Being worked');

    // They chat both ways, live; markup arrives as text.
    await expect.poll(() => customer.getByTestId('chat-state').textContent()).toBe('Live');
    await expect.poll(() => engineer.getByTestId('chat-state').textContent()).toBe('Live');
    await say(customer, '<b>hi</b>, checkout hangs');
    const engineerChat = engineer.getByTestId('chat-messages');
    await engineerChat.getByText('<b>hi</b>, checkout hangs').waitFor();
    expect(await engineerChat.locator('b').count()).toBe(0);
    await say(engineer, 'Looking now; I will ask for a terminal.');
    await customer
      .getByTestId('chat-messages')
      .getByText('Looking now; I will ask for a terminal.')
      .waitFor();
    await site.shot(customer, 's03-customer-chat');
    await site.shot(engineer, 's04-engineer-chat');

    // The engineer asks for a terminal from the request; it waits for the customer.
    await engineer.getByRole('button', { name: 'Open terminal' }).click();
    await engineer.waitForURL(/\/terminals\/new\?/);
    expect(new URL(engineer.url()).searchParams.get('ticket')).toBeTruthy();
    await engineer.getByText('Waiting for the customer to approve…').waitFor();
    await engineer.getByText(/The request expires at/).waitFor();
    await site.shot(engineer, 's05-engineer-waiting');
    // From here the engineer's page cannot poll the request: only the live topic can tell it.
    await engineer.route('**/api/v1/approvals/**', (route) => route.abort());

    // The customer, still on the request's page, is asked there and accepts.
    const prompt = customer.getByTestId('approval-prompt');
    await prompt.getByText('erin asks for a terminal').waitFor();
    await prompt.getByRole('link', { name: 'this support request' }).waitFor();
    await site.shot(customer, 's06-customer-consent-prompt');
    await prompt.getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => prompt.count()).toBe(0);

    // The engineer's terminal opens; 42.
    await engineer.waitForURL(/\/terminals\/(?!new)[^/?]+$/);
    await engineer.unroute('**/api/v1/approvals/**');
    const session = new URL(engineer.url()).pathname.split('/')[2]!;
    await expect.poll(() => engineer.getByTestId('terminal-state').textContent()).toBe('Live');
    await engineer.locator('.xterm-helper-textarea').focus();
    await engineer.keyboard.type('echo $((6*7))');
    await engineer.keyboard.press('Enter');
    await expect.poll(() => terminalLines(engineer)).toContain('42');
    await site.shot(engineer, 's07-engineer-42');

    // The customer watches from the request's session list: read-only, and the same 42.
    await customer.getByRole('link', { name: 'Watch live' }).click();
    await customer.waitForURL(new RegExp(`/terminals/${session}$`));
    await customer.getByText('Read-only: you are watching').waitFor();
    await expect.poll(() => terminalLines(customer)).toContain('42');
    await site.shot(customer, 's08-customer-watching-42');

    // The customer's keys change nothing: the endpoint drops them and records the attempt.
    await customer.locator('.xterm-helper-textarea').focus();
    await customer.keyboard.type('echo from-the-watcher');
    await customer.keyboard.press('Enter');
    await customer.getByTestId('keys-dropped').waitFor();
    await engineer.keyboard.type('echo still-$((1+1))');
    await engineer.keyboard.press('Enter');
    await expect.poll(() => terminalLines(customer)).toContain('still-2');
    await expect.poll(() => terminalLines(engineer)).toContain('still-2');
    expect((await terminalLines(engineer)).join('\n')).not.toContain('from-the-watcher');
    expect((await terminalLines(customer)).join('\n')).not.toContain('from-the-watcher');
    const dropped = await harness.api('GET', '/api/v1/audit?code=T8104E');
    expect(dropped.body.events).toEqual([
      expect.objectContaining({ sessionId: session, actorName: 'ann' }),
    ]);
    await site.shot(customer, 's09-customer-keys-dropped');

    // The customer ends the session, after saying yes to the question.
    await customer.getByRole('button', { name: 'End session' }).click();
    const confirm = customer.getByRole('dialog', { name: 'End this terminal session?' });
    await confirm.waitFor();
    await site.shot(customer, 's10-customer-confirms-end');
    await confirm.getByRole('button', { name: 'End session' }).click();
    await customer.getByText('Ended by ann').waitFor();
    await engineer.getByText('Ended by ann').waitFor();
    await site.shot(engineer, 's11-engineer-sees-ended-by-ann');

    // The engineer closes the request, after saying yes; both see its summary.
    await engineer
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Support requests' })
      .click();
    await engineer.getByText('All I may see').click();
    await engineer.getByRole('link', { name: SUBJECT }).click();
    await engineer.getByRole('button', { name: 'Close' }).click();
    const closing = engineer.getByRole('dialog', { name: 'Close this support request?' });
    await closing.waitFor();
    await site.shot(engineer, 's12-engineer-confirms-close');
    await closing.getByRole('button', { name: 'Close request' }).click();
    await expect.poll(() => status(engineer)).toBe('Closed');
    await customer
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Support requests' })
      .click();
    await customer.getByRole('link', { name: SUBJECT }).click();
    await expect.poll(() => status(customer)).toBe('Closed');
    const summary = customer.getByTestId('summary');
    await summary.getByText(/1 terminal session/).waitFor();
    const sessionLink = summary.getByRole('link', { name: `Terminal ${session.slice(0, 8)}` });
    await sessionLink.waitFor();
    await site.shot(customer, 's13-customer-summary');

    // The summary links to the session; its recording plays 42, with its markers.
    await sessionLink.click();
    await customer.waitForURL(new RegExp(`/terminals/${session}$`));
    await customer.getByText('Ended by ann').waitFor();
    await customer.getByRole('link', { name: 'Play the recording' }).click();
    await customer.waitForURL(/\/playback$/);
    await customer.getByTestId('playback').locator('.ap-player').waitFor();
    const markers = customer.getByRole('button', { name: /^\d+:\d\d / });
    await expect
      .poll(async () => (await markers.allInnerTexts()).map((t) => t.replace(/^\S+ /, '')))
      .toEqual(['approved by ann', 'joined: ann', 'ended by ann']);
    await customer.getByRole('button', { name: /ended by ann/ }).click();
    await expect.poll(() => playerLines(customer), { timeout: 20_000 }).toContain('42');
    expect(await playerLines(customer)).toContain('still-2');
    expect((await playerLines(customer)).join('\n')).not.toContain('from-the-watcher');
    await customer.evaluate(() => window.scrollTo(0, 0));
    await site.shot(customer, 's14-playback-42');

    // What reached the shell is on the record; the customer's keys are not.
    const recording = await harness.api('GET', `/api/v1/terminals/${session}/recording`);
    const { events } = castEvents(recording.body as string);
    const typed = events.flatMap(([, kind, data]) => (kind === 'i' ? [data] : [])).join('');
    const shown = events.flatMap(([, kind, data]) => (kind === 'o' ? [data] : [])).join('');
    expect(typed).toContain('echo $((6*7))');
    expect(shown).toContain('\r\n42\r\n');
    expect(typed + shown).not.toContain('from-the-watcher');

    // The server's page lists the session as ended.
    await customer.getByRole('link', { name: 'web-1' }).first().click();
    await customer
      .getByRole('table', { name: 'Terminal sessions' })
      .locator('tbody')
      .getByText('Ended')
      .waitFor();
    await site.shot(customer, 's15-server-sessions');
  }, 180_000);

  it('story - the pages ran under the CSP with nothing refused', () => {
    expect(site.cspViolations).toEqual([]);
  });
});

async function say(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}
