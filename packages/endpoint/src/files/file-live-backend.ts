/** The live file socket's view of the files backend: roles, the editor's reads, saves and ends. */
import type { FileService } from './file-service.ts';
import type { FileLiveBackend } from './file-live.ts';
import { FileOps } from './file-ops.ts';
import { checkPath } from './paths.ts';

export function fileLiveBackend(files: FileService): FileLiveBackend {
  const ops = new FileOps(files);
  return {
    async authorize(p, sessionId) {
      const { session, role } = await files.authorize(p, sessionId);
      return {
        role,
        agentId: session.agentId,
        accountId: session.accountId,
        ticketId: session.ticketId,
        live: session.status === 'live',
      };
    },

    // The text API's own read, as the editor: policy, audit and the history's "viewed" apply.
    // One call reads a small file whole (with its hash); a large one only its first page.
    async read(p, sessionId, path) {
      const view = await ops.text(p, sessionId, checkPath(Buffer.from(path, 'utf8')), {});
      return {
        path: view.path,
        size: view.size,
        hash: view.hash,
        content: view.content,
        binary: view.binary,
      };
    },

    notices(sessionId, handler) {
      return files.live.subscribe(sessionId, (message) => {
        if (message.type === 'saved')
          handler({ type: 'saved', sessionId, path: message.path, hash: message.hash });
        if (message.type === 'ended')
          handler({ type: 'ended', sessionId, by: message.by, reason: message.reason });
      });
    },
  };
}
