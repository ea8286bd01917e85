/**
 * One file session's live socket as page state: the role the endpoint gave, the folder (the
 * editor's own, or the one observers follow, with its listing), the open file and its shared
 * document, whether it has unsaved changes, who watches, and the end.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { notifications } from '@mantine/notifications';
import type { FileLiveRole, FileLiveServerMessage } from '@tether/protocol';
import { FILE_LIVE_TEXT } from '@tether/protocol/file-live-frames';
import type { User } from '../api/types.ts';
import { visibleText } from '../common/visible-text.ts';
import {
  FileLiveConnection,
  fileSocketUrl,
  type LiveFile,
  type LiveStatus,
} from './file-live-socket.ts';
import { ROOT, type FileRef } from './file-paths.ts';
import type { Entry, FileSession } from './files-api.ts';
import { PEER_COLORS } from './peer-cursors.ts';

/**
 * After `hello`, the endpoint sends the room's folder and file at once if it has them. An editor
 * that reconnects to a room that was freed meanwhile re-announces its own after this long.
 */
const REJOIN_MS = 300;

export type Person = Extract<FileLiveServerMessage, { type: 'watchers' }>['people'][number];

export function useFileLive(session: FileSession, user: User) {
  const client = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [closeReason, setCloseReason] = useState<string | null>(null);
  const [role, setRole] = useState<FileLiveRole | null>(null);
  const [cwd, setCwd] = useState<FileRef | null>(null);
  const [file, setFile] = useState<LiveFile | null>(null);
  const [opening, setOpening] = useState<string | null>(null);
  const [watchers, setWatchers] = useState<Person[]>([]);
  const [observed, setObserved] = useState<{ entries: Entry[]; truncated: boolean } | null>(null);
  const [ended, setEnded] = useState<{ by: string | null; reason: string } | null>(null);
  const [baseHash, setBaseHash] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const connection = useRef<FileLiveConnection | null>(null);
  const state = useRef({ cwd: null as FileRef | null, openPath: null as string | null });
  const baseText = useRef<string | null>(null);
  const lastListing = useRef<{ path: string; entries: Entry[] } | null>(null);
  const textNow = useRef('');

  const live = session.status === 'live' && !ended;
  const roots = session.roots ?? [];

  const measure = useCallback((text: string) => {
    textNow.current = text;
    setDirty(baseText.current !== null && text !== baseText.current);
  }, []);

  useEffect(() => {
    if (!live) return;
    let conn: FileLiveConnection | null = null;
    let rejoin: ReturnType<typeof setTimeout> | null = null;
    let heard = { cwd: false, open: false };
    // Deferred a tick, so a mount that is at once undone (StrictMode) never opens a socket.
    const timer = setTimeout(() => {
      conn = new FileLiveConnection({
        url: fileSocketUrl(window.location, session.id),
        user: { name: user.username, color: colorOf(user.id) },
        onStatus: (next, close) => {
          setStatus(next);
          if (next === 'closed' && close) setCloseReason(close.reason || null);
        },
        onFile: (next) => {
          setFile(next);
          setOpening(null);
          state.current.openPath = next?.meta.path ?? null;
          setBaseHash(next?.meta.hash ?? null);
          baseText.current = next && !next.doc ? '' : null;
          setDirty(false);
        },
        onSynced: (synced) => {
          if (conn?.file !== synced || !synced.doc) return;
          baseText.current = synced.doc.getText(FILE_LIVE_TEXT).toString();
          measure(baseText.current);
        },
        onControl: (message) => {
          switch (message.type) {
            case 'hello':
              setRole(message.role);
              heard = { cwd: false, open: false };
              if (message.role === 'editor') {
                if (rejoin) clearTimeout(rejoin);
                rejoin = setTimeout(() => {
                  const { cwd: mine, openPath } = state.current;
                  if (!heard.cwd) {
                    // A first visit starts in the first folder the account allows, or at /.
                    const start = mine ?? (roots[0] ? { path: roots[0] } : ROOT);
                    announceCwd(conn, start, setCwd, state);
                    const listed = lastListing.current;
                    if (listed && listed.path === start.path)
                      conn?.listing(listed.path, listed.entries);
                  }
                  if (!heard.open && openPath) conn?.open(openPath);
                }, REJOIN_MS);
              }
              return;
            case 'cwd':
              heard.cwd = true;
              if (message.path !== state.current.cwd?.path) setObserved(null);
              state.current.cwd = { path: message.path };
              return setCwd({ path: message.path });
            case 'listing':
              if (message.path === state.current.cwd?.path)
                setObserved({ entries: message.entries, truncated: message.truncated });
              return;
            case 'open':
              heard.open = true;
              return;
            case 'saved':
              if (message.path === state.current.openPath) {
                setBaseHash(message.hash);
                baseText.current = textNow.current;
                setDirty(false);
              }
              return;
            case 'watchers':
              return setWatchers(message.people);
            case 'ended':
              setEnded({ by: message.by, reason: message.reason });
              void client.invalidateQueries({ queryKey: ['file-session', session.id] });
              void client.invalidateQueries({ queryKey: ['file-sessions', session.agentId] });
              return;
            case 'error':
              setOpening(null);
              notifications.show({
                color: 'red',
                title: 'The server refused',
                message: `${visibleText(message.error.message)}.`,
              });
              return;
          }
        },
      });
      connection.current = conn;
    }, 0);
    return () => {
      clearTimeout(timer);
      if (rejoin) clearTimeout(rejoin);
      conn?.stop();
      connection.current = null;
    };
  }, [session.id, session.agentId, live, user.username, user.id, client, measure]);

  const onListed = useCallback((path: string, entries: Entry[]) => {
    lastListing.current = { path, entries };
    connection.current?.listing(path, entries);
  }, []);
  const openDir = (dir: FileRef) => announceCwd(connection.current, dir, setCwd, state);
  /** Asks for `path`; false (and a notice) when the socket is not there to ask. */
  const openPath = (path: string): boolean => {
    if (!connection.current?.open(path)) {
      notifications.show({
        color: 'red',
        message: 'Not connected: wait a moment, then try again.',
      });
      return false;
    }
    setOpening(path);
    return true;
  };
  /** A save of ours landed: the open file's base moves to what was saved. */
  const saved = (hash: string, content: string) => {
    setBaseHash(hash);
    baseText.current = content;
    measure(textNow.current);
  };

  return {
    live,
    status,
    closeReason,
    role,
    cwd,
    file,
    opening,
    watchers,
    observed,
    ended,
    setEnded,
    baseHash,
    dirty,
    openPath: file?.meta.path ?? null,
    measure,
    text: () => textNow.current,
    onListed,
    openDir,
    open: openPath,
    closeFile: () => connection.current?.closeFile(),
    saved,
  };
}

/** Moves the editor's folder and tells the watchers; a name that is not UTF-8 stays local. */
function announceCwd(
  conn: FileLiveConnection | null,
  dir: FileRef,
  setCwd: (dir: FileRef) => void,
  state: { current: { cwd: FileRef | null } },
): void {
  state.current.cwd = dir;
  setCwd(dir);
  if (!dir.b64) conn?.cwd(dir.path);
}

/** The same person gets the same cursor colour everywhere. */
function colorOf(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % PEER_COLORS;
}
