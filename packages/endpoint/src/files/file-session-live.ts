/**
 * A file session's live side: the messages its viewers get (cwd, open, closed, saved, ended)
 * over the bus from whichever endpoint process the editor works on, and the state a late
 * joiner needs first, kept in the session's row so any process can answer.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { FileClientMessage, FileServerMessage } from '@tether/protocol';
import type { Bus, BusPayload } from '../bus/bus.ts';
import type { Database, FileSessionsTable } from '../store/schema.ts';
import { FILE_EVENT_SUBJECT } from './file-history.ts';
import { sessionView } from './session-view.ts';
import { checkPath, shown } from './paths.ts';

export function fileLiveSubject(sessionId: string): string {
  return `files.${sessionId}.live`;
}

export class FileSessionLive {
  constructor(private readonly deps: { db: Kysely<Database>; bus: Bus; log: Logger }) {}

  /** What a late joiner needs to catch up: the folder shown and the file open. */
  async liveState(id: string): Promise<FileServerMessage[]> {
    const row = await this.load(id);
    if (!row) return [];
    const messages: FileServerMessage[] = [];
    if (row.cwd_b64) messages.push({ type: 'cwd', ...shown(Buffer.from(row.cwd_b64, 'base64')) });
    if (row.open_b64)
      messages.push({
        type: 'open',
        ...shown(Buffer.from(row.open_b64, 'base64')),
        hash: row.open_hash,
      });
    if (row.status === 'ended')
      messages.push({ type: 'ended', by: null, reason: row.end_reason ?? 'ended' });
    return messages;
  }

  /** Live messages of one session, from whichever endpoint process the editor works on. */
  subscribe(id: string, handler: (message: FileServerMessage) => void): () => void {
    return this.deps.bus.subscribe(fileLiveSubject(id), (payload) =>
      handler(payload as unknown as FileServerMessage),
    );
  }

  /** The editor's own cwd/open/close messages (from the socket): remembered and relayed. */
  async note(id: string, message: FileClientMessage): Promise<void> {
    if (message.type === 'close') {
      const row = await this.load(id);
      await this.setState(id, { open_b64: null, open_hash: null });
      if (row?.open_b64)
        this.publish(id, { type: 'closed', ...shown(Buffer.from(row.open_b64, 'base64')) });
      return;
    }
    const path = checkPath(Buffer.from(message.path, 'utf8'));
    if (message.type === 'cwd') return this.noteCwd(id, path);
    await this.noteOpen(id, path, null);
  }

  async noteCwd(id: string, path: Buffer): Promise<void> {
    await this.setState(id, { cwd_b64: path.toString('base64') });
    this.publish(id, { type: 'cwd', ...shown(path) });
  }

  async noteOpen(id: string, path: Buffer, hash: string | null): Promise<void> {
    await this.setState(id, { open_b64: path.toString('base64'), open_hash: hash });
    this.publish(id, { type: 'open', ...shown(path), hash });
  }

  publish(id: string, message: FileServerMessage): void {
    try {
      this.deps.bus.publish(fileLiveSubject(id), message as unknown as BusPayload);
    } catch (error) {
      // The bus closes with this process; the state is in the database for the next viewer.
      this.deps.log.debug({ err: error, sessionId: id }, 'file live message not published');
    }
  }

  private async setState(id: string, state: Partial<FileSessionsTable>): Promise<void> {
    await this.deps.db.updateTable('file_sessions').set(state).where('id', '=', id).execute();
  }

  private load(id: string) {
    return this.deps.db
      .selectFrom('file_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Session starts, write grants and ends on the 'files' live topic. */
  announce(row: FileSessionsTable, what: string): void {
    try {
      this.deps.bus.publish(FILE_EVENT_SUBJECT, {
        what,
        accountId: row.account_id,
        userId: row.user_id,
        session: sessionView(row) as unknown as Record<string, unknown>,
      });
    } catch {
      // The bus closes with this process; listeners learn the state from the API.
    }
  }
}
