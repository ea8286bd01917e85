/** What every browser test shares: Debian's chromium, the built site, a screenshots folder. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

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
