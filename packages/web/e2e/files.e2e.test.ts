/**
 * Files in Debian's chromium against a real endpoint and agent: the engineer asks, the customer
 * approves in their prompt, the engineer opens a config file in a temporary folder on the
 * agent's machine and types a change; the customer's page shows the engineer's cursor and the
 * change as it is typed; the engineer saves (after the customer approves writes, and after the
 * diff); the file on disk holds the change; the history shows the save with its diff.
 * Screenshots of each step go to a folder the test prints.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
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

const CONFIG = 'port: 8080\nworkers: 2\nlog_level: info\n';

describe.skipIf(skipBrowserTests)('files in chromium', () => {
  let harness: Harness;
  let browser: Browser;
  let shots: string;
  let webId: string;
  let folder: string;
  let account: string;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    buildSite();
    // The agent runs on this machine: the folder it serves is a temporary one of our own.
    folder = mkdtempSync(join(tmpdir(), 'tether-files-e2e-'));
    writeFileSync(join(folder, 'app.yml'), CONFIG);
    writeFileSync(join(folder, '<b>not bold<img src=x>.txt'), 'a name that looks like markup\n');

    harness = await startHarness({ webDir: WEB_DIR });
    account = await harness.account('Acme Hosting');
    // Only the temporary folder is reachable through files: the rest of this machine is not ours.
    const policy = await harness.api('PUT', `/api/v1/accounts/${account}/consent`, {
      pathAllow: [folder],
    });
    expect(policy.status).toBe(200);
    await person('ann', 'Ann Acme', 'customer', 'Acme Hosting');
    await person('erin', 'Erin Engineer', 'engineer');
    webId = (await harness.agent('Acme Hosting', 'web-1')).agentId;

    shots = screenshotsFolder('tether-files-e2e');
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await harness?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
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
    const context = await browser.newContext({ viewport: { width: 1400, height: 950 } });
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
    page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
    await page.goto(`${harness.url}/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  /** The customer's consent prompt for `asks`, accepted in the customer's own page. */
  async function accept(customer: Page, asks: RegExp): Promise<void> {
    const prompt = customer.getByTestId('approval-prompt').filter({ hasText: asks });
    await prompt.waitFor();
    await shot(customer, `prompt-${asks.source.replace(/\W+/g, '-')}`);
    await prompt.getByRole('button', { name: 'Accept' }).click();
    await prompt.waitFor({ state: 'detached' });
  }

  const editorText = (page: Page) => page.getByTestId('file-editor').locator('.cm-content');

  it('files - edit live under the customer’s eyes, save after the diff, find it on disk and in the history', async () => {
    const engineer = await signedIn('erin');
    const customer = await signedIn('ann');

    // The engineer asks; the customer's prompt says what for; the session opens.
    await engineer.goto(`${harness.url}/servers/${webId}`);
    await engineer.getByRole('link', { name: 'Files', exact: true }).click();
    await engineer.getByRole('heading', { name: 'Files on web-1' }).waitFor();
    await engineer.getByRole('button', { name: 'Open files' }).click();
    await engineer.getByText('Waiting for the customer to approve…').waitFor();
    await shot(engineer, 'f01-engineer-waiting');
    await accept(customer, /asks to browse and read files/);
    await engineer.waitForURL(/\/servers\/[^/]+\/files\/[^/?]+/);
    const session = new URL(engineer.url()).pathname.split('/').pop()!;
    await expect.poll(() => engineer.getByTestId('live-state').textContent()).toBe('Live');

    // The session starts in the folder the account allows; names are text, never markup.
    await engineer.getByRole('button', { name: 'app.yml', exact: true }).waitFor();
    await engineer.getByRole('button', { name: 'Go to…' }).click();
    await engineer.getByLabel('Go to folder').fill(folder);
    await engineer.getByRole('button', { name: 'Go', exact: true }).click();
    await engineer.getByRole('button', { name: 'app.yml', exact: true }).waitFor();
    await engineer.getByText('<b>not bold<img src=x>.txt').waitFor();
    expect(await engineer.locator('b', { hasText: 'not bold' }).count()).toBe(0);
    expect(await engineer.locator('img[src="x"]').count()).toBe(0);

    // The customer watches: the folder, read-only.
    await customer.goto(`${harness.url}/servers/${webId}/files`);
    // Self-service is off for this account: the customer is told how to turn it on.
    await customer.getByTestId('self-service-off').waitFor();
    await customer.getByRole('link', { name: 'Watch live' }).click();
    await customer.waitForURL(new RegExp(`/files/${session}`));
    await customer.getByText('Read-only: you are watching erin').waitFor();
    await expect.poll(() => customer.getByTestId('observed-cwd').textContent()).toBe(folder);
    await customer.getByText('app.yml', { exact: true }).waitFor();
    await shot(customer, 'f02-customer-follows-folder');

    // The engineer opens the config file; both see its content.
    await engineer.getByRole('button', { name: 'app.yml', exact: true }).click();
    await expect.poll(() => editorText(engineer).innerText()).toContain('workers: 2');
    await expect.poll(() => editorText(customer).innerText()).toContain('workers: 2');
    await expect
      .poll(() => customer.getByTestId('open-path').textContent())
      .toBe(join(folder, 'app.yml'));
    await shot(engineer, 'f03-engineer-opened');

    // The engineer types; the customer sees the change and the engineer's cursor live.
    await engineer
      .getByTestId('file-editor')
      .locator('.cm-line', { hasText: 'workers: 2' })
      .click();
    await engineer.keyboard.press('End');
    await engineer.keyboard.press('Backspace');
    await engineer.keyboard.type('8');
    await expect.poll(() => editorText(customer).innerText()).toContain('workers: 8');
    await customer.locator('.cm-peer-caret[data-peer="erin"]').waitFor();
    await expect
      .poll(() => customer.locator('.cm-peer-caret[data-peer="erin"]').textContent())
      .toBe('erin');
    await expect
      .poll(() => customer.getByTestId('save-state').textContent())
      .toBe('Unsaved changes');
    await shot(customer, 'f04-customer-sees-cursor-and-change');

    // The customer cannot type into it: the editor is read-only for them.
    await customer.getByTestId('file-editor').locator('.cm-content').click();
    await customer.keyboard.type('from the watcher');
    await expect.poll(() => editorText(engineer).innerText()).not.toContain('from the watcher');
    expect(await editorText(customer).innerText()).not.toContain('from the watcher');

    // Saving needs the customer's approval for writes; then the diff, then the save.
    await engineer.getByRole('button', { name: 'Ask to change files' }).click();
    await accept(customer, /asks to change files/);
    const save = engineer.getByRole('button', { name: 'Save…' });
    await expect.poll(() => save.isEnabled()).toBe(true);
    await save.click();
    const review = engineer.getByRole('dialog', { name: 'Save app.yml?' });
    await review.getByTestId('unified-diff').waitFor();
    const diff = await review.getByTestId('unified-diff').innerText();
    expect(diff).toContain('-workers: 2');
    expect(diff).toContain('+workers: 8');
    await shot(engineer, 'f05-engineer-diff-before-save');
    await review.getByRole('button', { name: 'Save to the server' }).click();
    await review.waitFor({ state: 'detached' });
    await expect.poll(() => engineer.getByTestId('save-state').textContent()).toBe('Saved');
    await expect.poll(() => customer.getByTestId('save-state').textContent()).toBe('Saved');

    // The file on the agent's disk holds the change.
    expect(readFileSync(join(folder, 'app.yml'), 'utf8')).toBe(
      CONFIG.replace('workers: 2', 'workers: 8'),
    );
    await shot(engineer, 'f06-engineer-saved');

    // The history shows the save with its diff, to the customer too.
    await customer.goto(`${harness.url}/servers/${webId}/files`);
    const history = customer.getByTestId('file-history');
    const saved = history.locator('tr[data-kind="save"]').first();
    await saved.waitFor();
    expect(await saved.innerText()).toContain(join(folder, 'app.yml'));
    await saved.getByRole('button', { name: 'Show diff' }).click();
    const detail = customer.getByTestId('save-detail').getByTestId('unified-diff');
    await expect.poll(() => detail.innerText()).toContain('+workers: 8');
    expect(await detail.innerText()).toContain('-workers: 2');
    await shot(customer, 'f07-history-save-diff');

    // And the saves replay step by step.
    await saved.getByRole('button', { name: 'Replay saves' }).click();
    const replay = customer.getByTestId('save-replay');
    await expect.poll(() => replay.getByTestId('replay-step').innerText()).toContain('Save 1 of 1');
    await replay.getByRole('tab', { name: 'The file after it' }).click();
    await expect
      .poll(() => replay.getByTestId('replay-content').innerText())
      .toContain('workers: 8');
    await shot(customer, 'f08-replay');
  }, 180_000);

  it('files - a customer’s self-service: hidden files, filter, sort, uploads (picked and dropped), folders, rename, mode, delete, conflict, hex, tail', async () => {
    const own = join(folder, 'own');
    mkdirSync(own);
    writeFileSync(join(own, 'app.yml'), CONFIG);
    writeFileSync(join(own, '.env'), 'SECRET=1\n');
    writeFileSync(join(own, 'big-notes.txt'), 'x'.repeat(5000));
    writeFileSync(join(own, 'tool.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
    const log = join(own, 'app.log');
    writeFileSync(log, `${'line of an old log entry\n'.repeat(130_000)}last old line\n`);
    const allowed = await harness.api('PUT', `/api/v1/accounts/${account}/consent`, {
      pathAllow: [folder],
      selfService: true,
      fileWriteMode: 'allow',
    });
    expect(allowed.status).toBe(200);

    const customer = await signedIn('ann');
    await customer.goto(`${harness.url}/servers/${webId}/files`);
    await customer.getByRole('button', { name: 'Open files' }).click();
    await customer.waitForURL(/\/servers\/[^/]+\/files\/[^/?]+/);
    await customer.getByRole('button', { name: 'Go to…' }).click();
    await customer.getByLabel('Go to folder').fill(own);
    await customer.getByRole('button', { name: 'Go', exact: true }).click();
    const table = customer.getByRole('table', { name: `Contents of ${own}` });
    const names = async () =>
      (await table.locator('.entry-name').allInnerTexts()).map((n) => n.trim());

    // Hidden files show only when asked; the filter and the sort work on what is shown.
    await expect.poll(names).toContain('app.yml');
    expect(await names()).not.toContain('.env');
    await customer.getByRole('switch', { name: 'Hidden files (1)' }).check();
    await expect.poll(names).toContain('.env');
    await customer.getByLabel('Filter by name').fill('app');
    await expect.poll(names).toEqual(['app.log', 'app.yml']);
    await customer.getByLabel('Filter by name').fill('');
    await table.getByRole('button', { name: 'Size' }).click();
    await table.getByRole('button', { name: 'Size' }).click();
    await expect.poll(async () => (await names())[0]).toBe('app.log');
    await shot(customer, 'g01-self-service-sorted-by-size');

    // Two files at once through the picker, each with its progress row.
    await customer.locator('input[type="file"]').setInputFiles([
      { name: 'one.txt', mimeType: 'text/plain', buffer: Buffer.from('first upload\n') },
      { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('second upload\n') },
    ]);
    await expect
      .poll(() => customer.locator('[data-testid="upload-row"][data-status="done"]').count())
      .toBe(2);
    await expect.poll(names).toContain('two.txt');
    expect(readFileSync(join(own, 'two.txt'), 'utf8')).toBe('second upload\n');

    // And one dropped on the folder.
    const dropped = await customer.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped in\n'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    });
    const zone = customer.getByRole('region', { name: 'Folder' });
    await zone.dispatchEvent('dragover', { dataTransfer: dropped });
    await zone.dispatchEvent('drop', { dataTransfer: dropped });
    await expect.poll(names).toContain('dropped.txt');
    expect(readFileSync(join(own, 'dropped.txt'), 'utf8')).toBe('dropped in\n');
    await shot(customer, 'g02-uploads');

    // New folder, rename, change mode, delete (confirmed).
    await customer.getByRole('button', { name: 'New folder' }).click();
    await customer.getByLabel('Folder name').fill('backups');
    await customer.getByRole('button', { name: 'Make folder' }).click();
    await expect.poll(() => existsSync(join(own, 'backups'))).toBe(true);

    await table.getByRole('button', { name: 'Actions for one.txt' }).click();
    await customer.getByRole('menuitem', { name: 'Rename…' }).click();
    await customer.getByLabel('New name').fill('renamed.txt');
    await customer.getByRole('button', { name: 'Rename', exact: true }).click();
    await expect.poll(() => existsSync(join(own, 'renamed.txt'))).toBe(true);

    await table.getByRole('button', { name: 'Actions for renamed.txt' }).click();
    await customer.getByRole('menuitem', { name: 'Change mode…' }).click();
    await customer.getByLabel('Mode (octal)').fill('600');
    await customer.getByRole('button', { name: 'Change mode' }).click();
    await expect.poll(() => statSync(join(own, 'renamed.txt')).mode & 0o777).toBe(0o600);

    await table.getByRole('button', { name: 'Actions for backups' }).click();
    await customer.getByRole('menuitem', { name: 'Delete…' }).click();
    const confirm = customer.getByRole('dialog', { name: 'Delete folder?' });
    expect(await confirm.getByRole('button', { name: 'Delete' }).isDisabled()).toBe(true);
    await confirm.getByLabel('Delete the folder and everything in it').check();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => existsSync(join(own, 'backups'))).toBe(false);
    await shot(customer, 'g03-after-changes');

    // A binary file shows as hex.
    await table.getByRole('button', { name: 'tool.bin', exact: true }).click();
    await expect
      .poll(() => customer.getByTestId('hex-preview').innerText())
      .toContain('7f 45 4c 46 00 01 02 03');
    await shot(customer, 'g04-hex');

    // A large log opens a page at a time, and follows its end.
    await table.getByRole('button', { name: 'app.log', exact: true }).click();
    await customer.getByTestId('paged-view').waitFor();
    await expect
      .poll(() => customer.getByTestId('text-view').innerText())
      .toContain('old log entry');
    await customer.getByRole('switch', { name: 'Follow the end (tail)' }).check();
    await expect
      .poll(() => customer.getByTestId('text-view').innerText())
      .toContain('last old line');
    appendFileSync(log, 'a brand new line\n');
    await expect
      .poll(() => customer.getByTestId('text-view').innerText(), { timeout: 15_000 })
      .toContain('a brand new line');
    await shot(customer, 'g05-tail');

    // Someone changes the file behind the editor's back: the save is refused, nothing is lost.
    await table.getByRole('button', { name: 'app.yml', exact: true }).click();
    const editor = customer.getByTestId('file-editor');
    await expect.poll(() => editor.locator('.cm-content').innerText()).toContain('workers: 2');
    await editor.locator('.cm-line', { hasText: 'log_level' }).click();
    await customer.keyboard.press('End');
    await customer.keyboard.type(' # mine');
    writeFileSync(join(own, 'app.yml'), CONFIG.replace('8080', '9090'));
    await customer.getByRole('button', { name: 'Save…' }).click();
    const conflict = customer.getByTestId('save-conflict');
    await conflict.waitFor();
    const theirs = await conflict.getByTestId('unified-diff').innerText();
    expect(theirs).toContain('+log_level: info # mine');
    expect(theirs).toContain('9090');
    expect(readFileSync(join(own, 'app.yml'), 'utf8')).toContain('9090');
    await shot(customer, 'g06-conflict');
    await conflict.getByRole('button', { name: 'Save mine over it…' }).click();
    await conflict.getByRole('button', { name: 'Yes, replace it with mine' }).click();
    await expect.poll(() => readFileSync(join(own, 'app.yml'), 'utf8')).toContain('# mine');
    await expect.poll(() => customer.getByTestId('save-state').textContent()).toBe('Saved');
  }, 180_000);

  it('files - the pages ran under the CSP with nothing refused and no script errors', () => {
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
