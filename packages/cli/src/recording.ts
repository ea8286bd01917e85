/** `tether recording export ID > session.cast`: a session's asciicast v2 recording, as stored. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { errorFromResponse } from './client.ts';
import { configPath, loadSaved, resolveConnection } from './config.ts';
import { withConnection } from './context.ts';

export function recordingCommand(): Command {
  const recording = new Command('recording').description('terminal session recordings');
  withConnection(recording.command('export'))
    .description('write a session’s recording (asciicast v2) to stdout')
    .argument('<session>', 'terminal session id')
    .addHelpText('after', '\nExample:\n  tether recording export 9c1e… > session.cast')
    .action(async (session: string, options) => {
      const connection = resolveConnection(options, process.env, await loadSaved(configPath()));
      const path = `/api/v1/terminals/${encodeURIComponent(session)}/recording`;
      const response = await fetch(new URL(path, connection.url), {
        headers: connection.token ? { authorization: `Bearer ${connection.token}` } : {},
      });
      if (!response.ok || !response.body) {
        const text = await response.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          // Not our error shape (a proxy's page): the status line speaks for it.
        }
        throw errorFromResponse(response.status, response.statusText, body, {
          doing: 'exporting the recording',
        });
      }
      // Streamed, so an hour-long recording never sits whole in memory.
      await pipeline(Readable.fromWeb(response.body as never), process.stdout, { end: false });
    });
  return recording;
}
