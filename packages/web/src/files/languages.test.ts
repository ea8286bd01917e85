import { describe, expect, it } from 'vitest';
import { languageNameFor } from './languages.ts';

describe('languages', () => {
  const cases = [
    ['/srv/app/config.yml', 'yaml'],
    ['/srv/app/package.json', 'json'],
    ['/srv/app/src/index.tsx', 'typescript'],
    ['/etc/nginx/sites-available/default', 'nginx'],
    ['/etc/nginx/nginx.conf', 'nginx'],
    ['/root/.bashrc', 'shell'],
    ['/srv/app/.env', 'ini'],
    ['/etc/systemd/system/app.service', 'ini'],
    ['/srv/app/Dockerfile', 'dockerfile'],
    ['/srv/app/deploy.sh', 'shell'],
    ['/var/log/syslog', 'text'],
    ['/srv/app/README', 'text'],
  ] as const;
  for (const [path, language] of cases)
    it(`languages - ${path} is highlighted as ${language}`, () => {
      expect(languageNameFor(path)).toBe(language);
    });
});
