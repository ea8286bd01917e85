/**
 * The script pages in Debian's chromium against a real endpoint: packages published through the
 * repository's real sync upload, then found, read and browsed by a customer and an engineer,
 * each seeing only what visibility allows. Screenshots of each step go to a folder the test prints.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  publishVia,
  publisher,
  startHarness,
  type Harness,
  type Publisher,
} from '../../repository/src/testing/endpoint.ts';
import {
  buildSite,
  launchChromium,
  PASSWORD,
  screenshotsFolder,
  skipBrowserTests,
  STEP_TIMEOUT_MS,
  WEB_DIR,
} from './browser.ts';

/** Anything a package managed to run in the page sets this; it must stay unset. */
const PWNED = 'window.__pwned = 1';
const HOSTILE_DESCRIPTION = `Disk usage per folder <b>bold</b><img src=x onerror="${PWNED}">`;
const HOSTILE_README = [
  '# Disk usage',
  '',
  `<script>${PWNED}</script>`,
  `<img src=x onerror="${PWNED}">`,
  '',
  'Run it on a server to see which folders fill the disk.',
].join('\n');
const MAIN_JS = 'export function usage(path) {\n  return fs.du(path); // sizes in bytes\n}\n';
/** Larger than the viewer's 512 KiB, so it shows the start with a note. */
const BIG_LOG = 'a log line that repeats to make the file large\n'.repeat(13_000);

describe.skipIf(skipBrowserTests)('script pages in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let shots: string;
  let alice: Publisher;
  let latest: { tree: string; tag: string };
  const cspViolations: string[] = [];
  const dialogs: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    buildSite();

    harness = await startHarness({ webDir: WEB_DIR });
    await harness.account('Acme Hosting');
    await person('cora', 'Cora Customer', 'customer', 'Acme Hosting');
    await person('eli', 'Eli Engineer', 'engineer');
    const web = await harness.agent('Acme Hosting', 'web-1');
    alice = await publisher(harness, 'engineer');

    await publishVia(
      harness,
      alice,
      {
        name: 'acme/text/format',
        version: '1.0.0',
        description: 'Formats sizes and durations',
        tags: ['text'],
      },
      { 'index.js': 'export const bytes = (n) => `${n} B`;\n' },
    );
    const base = {
      name: 'acme/disk/usage',
      description: HOSTILE_DESCRIPTION,
      tags: ['disk', 'report'],
      dependencies: { 'acme/text/format': '^1.0.0' },
    };
    await publishVia(harness, alice, { ...base, version: '1.0.0' }, { 'main.js': MAIN_JS });
    await publishVia(harness, alice, { ...base, version: '1.1.0' }, { 'main.js': MAIN_JS });
    latest = await publishVia(
      harness,
      alice,
      { ...base, version: '1.2.0', owners: [alice.username, 'eli'] },
      {
        'README.md': HOSTILE_README,
        'lib/main.js': MAIN_JS,
        'lib/util/paths.js': 'export const root = "/";\n',
        'assets/logo.bin': '\u0000\u0001\u0002PNG not really',
        'data/big.log': BIG_LOG,
      },
    );
    await publishVia(harness, alice, {
      name: 'acme/staff/reset',
      version: '1.0.0',
      description: 'Resets what only staff should reset',
      tags: ['disk'],
      visibility: 'staff',
    });
    // More than a page (20) for staff, so the engineer's list pages with "Load more".
    for (let i = 0; i < 20; i++) {
      const name = `acme/fill/f${String(i).padStart(2, '0')}`;
      await publishVia(harness, alice, { name, version: '1.0.0', visibility: 'staff' });
    }
    const pkg = (name: string) => `/api/v1/repository/packages/${encodeURIComponent(name)}`;
    const yanked = await harness.api(
      'POST',
      `${pkg('acme/disk/usage')}/versions/1.1.0/yank`,
      { reason: 'Deletes <i>temp</i> files it should keep' },
      alice.token,
    );
    expect(yanked.status).toBe(200);
    const deprecated = await harness.api(
      'POST',
      `${pkg('acme/text/format')}/deprecate`,
      { message: 'Use <marquee>acme/text/units</marquee> instead' },
      alice.token,
    );
    expect(deprecated.status).toBe(200);
    // The agent proxy's own fetch (the link's frames for it come with the scripts issue): the
    // audit event it writes is what the "Runs on servers" section reads.
    await harness.endpoint.services.repository.agents.fetch(web.agentId, [latest.tree], {
      send: async () => {},
    });

    shots = screenshotsFolder('tether-scripts-e2e');
    browser = await launchChromium();
  }, 120_000);

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
  }

  async function signedIn(username: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
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
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${harness.url}/sign-in`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  const found = (page: Page) =>
    page.getByRole('list', { name: 'Scripts found' }).getByRole('listitem');

  const listed = (page: Page) =>
    found(page).evaluateAll((items) => items.map((item) => item.getAttribute('aria-label')));

  async function nothingRan(page: Page) {
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBe(
      undefined,
    );
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
  }

  it('scripts - a customer finds public scripts by words, tag and owner; staff ones stay hidden', async () => {
    const page = await signedIn('cora');
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Scripts' })
      .click();
    await page.getByRole('heading', { name: 'Scripts', level: 1 }).waitFor();
    await expect.poll(() => listed(page)).toEqual(['acme/disk/usage', 'acme/text/format']);

    // Markup in a description and a deprecation message is text.
    const disk = found(page).filter({ hasText: 'acme/disk/usage' });
    expect(await disk.getByTestId('script-description').textContent()).toBe(HOSTILE_DESCRIPTION);
    await disk.getByText('1 version yanked').waitFor();
    const format = found(page).filter({ hasText: 'acme/text/format' });
    await format.getByText('Deprecated', { exact: true }).waitFor();
    await format.getByText('Deprecated: Use <marquee>acme/text/units</marquee> instead').waitFor();
    expect(await page.locator('main marquee, main b').count()).toBe(0);
    await nothingRan(page);
    await shot(page, '01-customer-scripts');

    await page.getByRole('textbox', { name: 'Tag' }).fill('disk');
    await expect.poll(() => listed(page)).toEqual(['acme/disk/usage']);
    expect(new URL(page.url()).searchParams.get('tag')).toBe('disk');
    await shot(page, '02-customer-tag-disk');
    await page.getByRole('button', { name: 'Clear the tag' }).click();

    await disk.getByRole('link', { name: 'Scripts owned by eli' }).click();
    await expect.poll(() => page.getByRole('textbox', { name: 'Owner' }).inputValue()).toBe('eli');
    await expect.poll(() => listed(page)).toEqual(['acme/disk/usage']);
    await page.getByRole('textbox', { name: 'Owner' }).fill(alice.username);
    await expect.poll(() => listed(page)).toEqual(['acme/disk/usage', 'acme/text/format']);
    await page.getByRole('textbox', { name: 'Owner' }).fill('');

    await page.getByRole('textbox', { name: 'Search' }).fill('reset');
    await page.getByText('No scripts match').waitFor();
    await shot(page, '03-customer-search-nothing');
    await page.getByRole('button', { name: 'Clear the search and filters' }).click();
    await expect.poll(() => listed(page)).toHaveLength(2);
  });

  it('scripts - a customer reads the README as text, browses folders, views files and versions', async () => {
    const page = await signedIn('cora');
    await page.goto(`${harness.url}/scripts`);
    await page.getByRole('link', { name: 'acme/disk/usage', exact: true }).click();
    await page.getByRole('heading', { name: 'acme/disk/usage', level: 1 }).waitFor();

    // The README shows by default, as its own characters.
    const readme = page.getByTestId('readme');
    await readme.getByText(`<script>${PWNED}</script>`).waitFor();
    await readme.getByText(`<img src=x onerror="${PWNED}">`).waitFor();
    expect(await page.getByTestId('script-description').textContent()).toBe(HOSTILE_DESCRIPTION);
    await nothingRan(page);
    expect(await page.getByTestId('audience').textContent()).toBe('Everyone, signed in or not.');
    expect(await page.getByTestId('tree-hash').textContent()).toBe(latest.tree);
    expect(await page.getByTestId('tag-hash').textContent()).toBe(latest.tag);
    expect(await page.getByTestId('key-fingerprint').textContent()).toBe(alice.keyId);
    await shot(page, '04-package-readme');

    // Into a folder and a file: breadcrumbs, highlighting.
    await page.getByRole('link', { name: 'lib/' }).click();
    await page.getByRole('link', { name: 'util/' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/scripts/acme/disk/usage@1.2.0/lib');
    const crumbs = page.getByRole('navigation', { name: 'Folder path' });
    expect(await crumbs.getByText('lib', { exact: true }).getAttribute('aria-current')).toBe(
      'page',
    );
    await page.getByRole('link', { name: 'main.js' }).click();
    expect(await page.getByTestId('open-file').textContent()).toBe('main.js');
    const code = page.getByTestId('code-view');
    const keyword = code.locator('.cm-line span', { hasText: /^function$/ });
    await keyword.waitFor();
    const colours = await keyword.evaluate((span) => [
      getComputedStyle(span).color,
      getComputedStyle(span.closest('.cm-line')!).color,
    ]);
    expect(colours[0]).not.toBe(colours[1]);
    await page.getByText('JavaScript', { exact: false }).first().waitFor();
    await shot(page, '05-file-highlighted');
    await crumbs.getByRole('link', { name: 'acme/disk/usage@1.2.0' }).click();
    await page.getByTestId('readme').waitFor();

    // A binary file is offered as a download; a large one shows its start with a note.
    await page.getByRole('link', { name: 'assets/' }).click();
    await page.getByRole('link', { name: 'logo.bin' }).click();
    await page.getByText('This file is binary').waitFor();
    const download = page.getByRole('main').getByRole('link', { name: 'Download' }).last();
    expect(await download.getAttribute('href')).toBe(
      '/api/v1/repository/packages/acme%2Fdisk%2Fusage/versions/1.2.0/files/assets/logo.bin',
    );
    await page.goto(`${harness.url}/scripts/acme/disk/usage@1.2.0/data/big.log`);
    await expect
      .poll(() => page.getByTestId('truncated').textContent())
      .toBe(
        `Showing the first 512 KiB of ${Math.round(BIG_LOG.length / 1024)} KiB. Download the file to read all of it.`,
      );
    await page.getByTestId('code-view').getByText('a log line that repeats').first().waitFor();
    await shot(page, '06-large-file');

    // Versions, newest first, the yanked one marked with its reason as text.
    await page.goto(`${harness.url}/scripts/acme/disk/usage`);
    await page.getByRole('tab', { name: 'Files' }).focus();
    await page.keyboard.press('ArrowRight');
    const versions = page.getByTestId('versions');
    await versions.waitFor();
    const rows = versions.getByRole('row');
    await expect.poll(() => rows.allInnerTexts()).toHaveLength(4);
    expect(await rows.nth(1).innerText()).toMatch(/^1\.2\.0\s.*Latest$/is);
    expect(await rows.nth(2).innerText()).toMatch(
      /^1\.1\.0\s.*Yanked\s+Deletes <i>temp<\/i> files it should keep$/is,
    );
    expect(await rows.nth(3).innerText()).toMatch(/^1\.0\.0\s/);
    expect(await page.locator('main i').count()).toBe(0);
    const history = page.getByTestId('ownership-history');
    await history.getByText(`Owned by ${alice.username}`).waitFor();
    await history.getByText('Added eli').waitFor();
    await shot(page, '07-versions');
    await rows.nth(2).getByRole('link', { name: '1.1.0' }).click();
    await page
      .getByTestId('yanked-version')
      .getByText('Reason: Deletes <i>temp</i> files it should keep')
      .waitFor();
    await shot(page, '08-yanked-version');

    // Dependencies, with the version each one is locked to, as links.
    await page.getByRole('tab', { name: /^Dependencies/ }).click();
    const deps = page.getByTestId('dependencies');
    await deps.getByText('^1.0.0').waitFor();
    await deps.getByRole('link', { name: 'acme/text/format 1.0.0' }).click();
    await page.getByRole('heading', { name: 'acme/text/format', level: 1 }).waitFor();
    await page.getByText('This script is deprecated').waitFor();
    await shot(page, '09-dependency-deprecated');

    // Which servers ran it: not yet possible, said so; the fetch on record is listed.
    await page.goto(`${harness.url}/scripts/acme/disk/usage?tab=servers`);
    await page.getByText('Agents do not run scripts yet').waitFor();
    const fetches = page.getByTestId('agent-fetches');
    await fetches.getByRole('link', { name: 'web-1' }).waitFor();
    await fetches.getByRole('link', { name: '1.2.0' }).waitFor();
    await shot(page, '10-runs-on-servers');

    // A staff-only package answers "not found" to a customer, even by its URL.
    await page.goto(`${harness.url}/scripts/acme/staff/reset`);
    await page.getByText('Cannot show this script').waitFor();
    await page.getByText('It does not exist, or your account may not see it.').waitFor();
    expect(await page.getByText('Resets what only staff should reset').count()).toBe(0);
    await shot(page, '11-customer-staff-package-not-found');

    // A phone: the page stacks; the file list and the viewer still fit.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${harness.url}/scripts/acme/disk/usage@1.2.0/lib/main.js`);
    await page.getByTestId('code-view').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await shot(page, '12-phone-file');
    await nothingRan(page);
  });

  it('scripts - an engineer sees the staff package too, and who may run it', async () => {
    const page = await signedIn('eli');
    await page.goto(`${harness.url}/scripts`);
    await expect.poll(() => listed(page)).toHaveLength(20);
    await page.getByRole('button', { name: 'Load more scripts' }).click();
    await expect.poll(() => listed(page)).toHaveLength(23);
    expect((await listed(page)).at(-1)).toBe('acme/text/format');
    await expect
      .poll(() => page.getByRole('button', { name: 'Load more scripts' }).count())
      .toBe(0);

    await page.goto(`${harness.url}/scripts?tag=disk`);
    await expect.poll(() => listed(page)).toEqual(['acme/disk/usage', 'acme/staff/reset']);
    await found(page).filter({ hasText: 'acme/staff/reset' }).getByText('Staff only').waitFor();
    await shot(page, '13-engineer-tag-disk');
    await page.getByRole('link', { name: 'acme/staff/reset', exact: true }).click();
    await page.getByRole('heading', { name: 'acme/staff/reset', level: 1 }).waitFor();
    expect(await page.getByTestId('audience').textContent()).toBe(
      'Engineers, managers and admins.',
    );
    await page.getByText('This version has no README.').waitFor();
    await shot(page, '14-engineer-staff-package');

    // Engineers see only their own audit events: no agent fetch is theirs to see.
    await page.goto(`${harness.url}/scripts/acme/disk/usage?tab=servers`);
    await page.getByText('No server has fetched this script').waitFor();
  });

  it('scripts - the pages ran under the CSP with nothing refused', () => {
    expect(cspViolations).toEqual([]);
  });
});
