/** `tether keys add|ls|rm`: the Ed25519 keys that sign the scripts you publish. */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { clientFor, withConnection } from './context.ts';
import { configPath } from './config.ts';
import { UsageError } from './errors.ts';
import { formatJson, formatTable } from './output.ts';

interface KeyView {
  id: string;
  publicKey: string;
  comment: string;
  createdAt: string;
  removedAt: string | null;
}

const EXAMPLES = `
Examples:
  tether keys add                      make a signing key (if there is none) and register it
  tether keys add ~/.ssh/id_ed25519.pub
  tether keys ls
  tether keys rm SHA256:…`;

/** Where `tether keys add` keeps the private key it made, beside the saved login. */
export function defaultKeyPath(): string {
  return join(dirname(configPath()), 'publisher-key.pem');
}

export function keysCommand(): Command {
  const keys = new Command('keys')
    .description('your publisher keys: they sign the scripts you publish')
    .addHelpText('after', EXAMPLES);

  withConnection(keys.command('add'), { json: true })
    .description('register an Ed25519 public key; without a file, make one and register it')
    .argument('[pubkey-file]', 'OpenSSH (ssh-ed25519 AAAA…) or PEM public key')
    .option('--comment <text>', 'a note to tell your keys apart')
    .action(async (file: string | undefined, options) => {
      const client = await clientFor(options);
      const { generatePublisherKey, loadPrivateKey } = await import('@tether/repository');
      let publicKey: string;
      let made = '';
      if (file) {
        publicKey = await readFile(file, 'utf8').catch((error) => {
          throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
        });
      } else {
        const path = defaultKeyPath();
        if (!existsSync(path)) {
          const { privatePem } = generatePublisherKey();
          await mkdir(dirname(path), { recursive: true, mode: 0o700 });
          await writeFile(path, privatePem, { mode: 0o600 });
          await chmod(path, 0o600);
          made = `made a new signing key in ${path}\n`;
        }
        publicKey = loadPrivateKey(await readFile(path, 'utf8')).publicKey.openssh;
      }
      const body = { publicKey, comment: options.comment };
      const { key } = await client.post<{ key: KeyView }>('/api/v1/repository/keys', body, {
        doing: 'registering the key',
      });
      if (options.json) return void process.stdout.write(formatJson(key));
      process.stdout.write(`${made}registered ${key.id}\n`);
    });

  withConnection(keys.command('ls'), { json: true })
    .description('list your keys, removed ones included')
    .action(async (options) => {
      const client = await clientFor(options);
      const { keys: list } = await client.get<{ keys: KeyView[] }>('/api/v1/repository/keys', {
        doing: 'listing keys',
      });
      if (options.json) return void process.stdout.write(formatJson(list));
      const rows = list.map((k) => [k.id, k.comment, k.createdAt, k.removedAt ?? 'active']);
      process.stdout.write(formatTable(['ID', 'COMMENT', 'ADDED', 'STATUS'], rows));
    });

  withConnection(keys.command('rm'), { json: true })
    .description('remove a key: it signs no new release')
    .argument('<id>', 'the key fingerprint, SHA256:…')
    .action(async (id: string, options) => {
      const client = await clientFor(options);
      const { key } = await client.request<{ key: KeyView }>(
        'DELETE',
        `/api/v1/repository/keys/${encodeURIComponent(id)}`,
        { doing: 'removing the key' },
      );
      if (options.json) return void process.stdout.write(formatJson(key));
      process.stdout.write(`removed ${key.id}\n`);
    });

  return keys;
}
