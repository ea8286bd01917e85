#!/usr/bin/env node
// Builds the support site (packages/web -> packages/web/dist) when its sources are newer than
// the last build; `--force` always builds. `npm start` runs this first, so a fresh clone serves
// the site after `npm install && npm start`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const web = join(root, 'packages/web');
const built = join(web, 'dist/index.html');
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'];

const force = process.argv.includes('--force');
const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
const newer = builtAt === 0 ? null : newestSource();

if (!force && builtAt > 0 && newer.mtimeMs <= builtAt) {
  console.log(`web: site is up to date (${relative(root, built)})`);
  process.exit(0);
}

const reason = force
  ? 'asked to (--force)'
  : builtAt === 0
    ? 'it has not been built'
    : `${relative(root, newer.file)} changed since the last build`;
console.log(`web: building the support site: ${reason}`);
const result = spawnSync('npm', ['run', '--silent', 'build', '-w', '@tether/web'], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error('web: the build failed; see above');
  process.exit(result.status ?? 1);
}
console.log(`web: built ${relative(root, built)}`);

function newestSource() {
  let newest = { file: web, mtimeMs: 0 };
  const visit = (path) => {
    if (!existsSync(path)) return;
    const info = statSync(path);
    if (info.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (info.mtimeMs > newest.mtimeMs && !path.endsWith('.test.ts')) {
      newest = { file: path, mtimeMs: info.mtimeMs };
    }
  };
  for (const name of SOURCES) visit(join(web, name));
  return newest;
}
