/** Asking a person at a terminal: a line, or a secret typed without echo. Prompts go to stderr. */
import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.ts';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = '\u007f';
const BACKSPACE_CTRL_H = '\b';

export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Reads one line in raw mode so nothing typed is echoed; Ctrl-C or Ctrl-D cancels. */
export function askSecret(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');

  return new Promise((resolve, reject) => {
    let secret = '';
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(secret);
    };
    const onData = (text: string): void => {
      for (const char of text) {
        if (char === '\r' || char === '\n') return finish();
        if (char === CTRL_C || (char === CTRL_D && secret === '')) {
          return finish(new UsageError('cancelled'));
        }
        if (char === BACKSPACE || char === BACKSPACE_CTRL_H) secret = secret.slice(0, -1);
        else secret += char;
      }
    };
    input.on('data', onData);
  });
}

/** All of stdin as text, for `--password-stdin`; a terminal is refused so nothing is echoed. */
export async function readSecretStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UsageError('--password-stdin reads a pipe, e.g. pass show tether | tether login …');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
