/**
 * The history of file work, per server and per ticket: one row per folder listed, file viewed,
 * saved, uploaded, downloaded, deleted, made, renamed or changed mode. Saved contents (before
 * and after) are kept as blobs named by their SHA-256, so an editing session replays save by save.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { FileEventKind, FileEventView } from '@tether/protocol';
import type { Bus } from '../bus/bus.ts';
import { timeOrderedId } from '../chat/page-cursor.ts';
import type { Database, FileEventsTable, FileSessionsTable } from '../store/schema.ts';
import { shown } from './paths.ts';

/** Live topic 'files': history rows and session changes, filtered by visibility. */
export const FILE_EVENT_SUBJECT = 'file.event';
const HASH = /^[0-9a-f]{64}$/;

export interface FileEventInput {
  code: string;
  kind: FileEventKind;
  path: Buffer;
  toPath?: Buffer;
  beforeHash?: string | null;
  afterHash?: string | null;
  bytes?: number | null;
  diff?: string | null;
  detail?: Record<string, unknown>;
}

export class FileHistory {
  constructor(
    private readonly deps: { db: Kysely<Database>; bus: Bus; dataDir: string; log: Logger },
  ) {}

  get blobsDir(): string {
    return join(this.deps.dataDir, 'file-blobs', 'sha256');
  }

  /**
   * Keeps `content` under its SHA-256 (written to a temporary name, then renamed: a crash
   * leaves no half blob under a real name). Returns the hash.
   */
  keep(content: Buffer): string {
    const hash = createHash('sha256').update(content).digest('hex');
    const file = this.blobPath(hash);
    if (existsSync(file)) return hash;
    mkdirSync(join(this.blobsDir, hash.slice(0, 2)), { recursive: true, mode: 0o700 });
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, content, { mode: 0o600 });
      renameSync(temp, file);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
    return hash;
  }

  blobPath(hash: string): string {
    if (!HASH.test(hash)) throw new Error(`not a sha-256: ${hash}`);
    return join(this.blobsDir, hash.slice(0, 2), hash);
  }

  hasBlob(hash: string): boolean {
    return HASH.test(hash) && existsSync(this.blobPath(hash));
  }

  async record(session: FileSessionsTable, input: FileEventInput): Promise<FileEventView> {
    const row: FileEventsTable = {
      id: timeOrderedId(),
      created_at: new Date().toISOString(),
      agent_id: session.agent_id,
      account_id: session.account_id,
      ticket_id: session.ticket_id,
      session_id: session.id,
      user_id: session.user_id,
      username: session.username,
      code: input.code,
      kind: input.kind,
      path_b64: input.path.toString('base64'),
      to_path_b64: input.toPath ? input.toPath.toString('base64') : null,
      before_hash: input.beforeHash ?? null,
      after_hash: input.afterHash ?? null,
      bytes: input.bytes ?? null,
      diff: input.diff ?? null,
      detail: input.detail ? JSON.stringify(input.detail) : null,
    };
    await this.deps.db.insertInto('file_events').values(row).execute();
    const event = eventView(row);
    try {
      this.deps.bus.publish(FILE_EVENT_SUBJECT, {
        what: 'event',
        accountId: row.account_id,
        userId: row.user_id,
        event: event as unknown as Record<string, unknown>,
      });
    } catch (error) {
      // The bus closes with this process; the row is written and the API shows it.
      this.deps.log.debug({ err: error }, 'file event not published');
    }
    return event;
  }
}

export function eventView(row: FileEventsTable): FileEventView {
  const path = shown(Buffer.from(row.path_b64, 'base64'));
  const view: FileEventView = {
    id: row.id,
    at: row.created_at,
    code: row.code,
    kind: row.kind as FileEventKind,
    agentId: row.agent_id,
    path: path.path,
    username: row.username,
    userId: row.user_id,
    sessionId: row.session_id,
    ticketId: row.ticket_id,
  };
  if (path.pathB64) view.pathB64 = path.pathB64;
  if (row.to_path_b64) {
    const to = shown(Buffer.from(row.to_path_b64, 'base64'));
    view.toPath = to.path;
    if (to.pathB64) view.toPathB64 = to.pathB64;
  }
  if (row.before_hash) view.beforeHash = row.before_hash;
  if (row.after_hash) view.afterHash = row.after_hash;
  if (row.bytes !== null) view.bytes = Number(row.bytes);
  if (row.detail) view.detail = JSON.parse(row.detail) as Record<string, unknown>;
  return view;
}
