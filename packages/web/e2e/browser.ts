/** What every browser test shares: Debian's chromium, the built site, a screenshots folder. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

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
export const ROOT = resolve(import.meta.dirname, '../../..');
export const WEB_DIR = join(ROOT, 'packages/web/dist');
export const PASSWORD = 'correct horse battery';
export const STEP_TIMEOUT_MS = 15_000;

const ci = process.env.CI === 'true' || process.env.CI === '1';
/** Without chromium the browser tests skip, saying so; in CI a missing chromium is a failure. */
export const skipBrowserTests = !existsSync(CHROMIUM) && !ci;
if (skipBrowserTests)
  console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

/** Builds the site if its sources changed, so the test serves what the code says. */
export function buildSite(): void {
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs')], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`web build failed:\n${build.stdout}${build.stderr}`);
}

export function screenshotsFolder(name: string): string {
  const folder = process.env.TETHER_E2E_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), `${name}-`));
  mkdirSync(folder, { recursive: true });
  console.log(`${name}: screenshots in ${folder}`);
  return folder;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * The site as several people see it: a browser context each, every page watched for CSP
 * refusals, screenshots into one folder.
 */
export class SiteBrowser {
  readonly cspViolations: string[] = [];
  private readonly contexts: BrowserContext[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly url: string,
    private readonly shots: string,
  ) {}

  /** A fresh context (its own cookies) and a page in it. */
  async page(viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await this.browser.newContext({ viewport });
    this.contexts.push(context);
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
        this.cspViolations.push(message.text());
    });
    return page;
  }

  /** A page signed in as `username`, on the servers list. */
  async signedIn(username: string): Promise<Page> {
    const page = await this.page();
    await page.goto(`${this.url}/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor();
    return page;
  }

  shot(page: Page, name: string): Promise<Buffer> {
    return page.screenshot({ path: join(this.shots, `${name}.png`), fullPage: true });
  }

  async close(): Promise<void> {
    await Promise.all(this.contexts.map((c) => c.close()));
  }
}

/** The live terminal's visible lines (xterm.js), trimmed. */
export async function terminalLines(page: Page): Promise<string[]> {
  return (await page.locator('.xterm-rows').innerText()).split('\n').map((l) => l.trim());
}
