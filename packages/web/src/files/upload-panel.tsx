/**
 * Uploads into the current folder: several files at once, by picking or by dropping them on the
 * browser, each with its own progress bar, one after another, each one cancellable.
 */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ActionIcon, Checkbox, Group, Paper, Progress, Stack, Text, Tooltip } from '@mantine/core';
import { IconX } from '@tabler/icons-react';
import { errorAdvice } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { formatSize } from './file-format.ts';
import { childRef, nameProblem, type FileRef } from './file-paths.ts';
import { uploadFile } from './files-api.ts';

type Status = 'queued' | 'uploading' | 'done' | 'failed' | 'cancelled';

interface Upload {
  id: number;
  file: File;
  dir: FileRef;
  status: Status;
  loaded: number;
  error?: string;
  abort?: AbortController;
}

let nextId = 1;

export interface Uploads {
  add(files: File[], dir: FileRef): void;
  /** Drag-and-drop handlers for the element that takes drops. */
  dropProps: {
    onDragOver: (e: React.DragEvent) => void;
    onDragLeave: (e: React.DragEvent) => void;
    onDrop: (e: React.DragEvent) => void;
  };
  dragging: boolean;
  panel: ReactNode;
}

export function useUploads(session: string, dir: FileRef, enabled: boolean): Uploads {
  const client = useQueryClient();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [overwrite, setOverwrite] = useState(false);
  const [dragging, setDragging] = useState(false);
  const running = useRef(false);
  const overwriteRef = useRef(overwrite);
  overwriteRef.current = overwrite;

  const patch = (id: number, change: Partial<Upload>) =>
    setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...change } : u)));

  const add = useCallback((files: File[], target: FileRef) => {
    const fresh = files.map((file): Upload => {
      const problem = nameProblem(file.name);
      return problem
        ? { id: nextId++, file, dir: target, status: 'failed', loaded: 0, error: problem }
        : { id: nextId++, file, dir: target, status: 'queued', loaded: 0 };
    });
    setUploads((list) => [...list.filter((u) => u.status !== 'done'), ...fresh]);
  }, []);

  // One upload at a time: the next starts when the last one finishes.
  useEffect(() => {
    if (running.current) return;
    const next = uploads.find((u) => u.status === 'queued');
    if (!next) return;
    running.current = true;
    const abort = new AbortController();
    patch(next.id, { status: 'uploading', abort });
    uploadFile(session, childRef(next.dir, { name: next.file.name }), next.file, {
      overwrite: overwriteRef.current,
      signal: abort.signal,
      onProgress: ({ loaded }) => patch(next.id, { loaded }),
    })
      .then(() => {
        patch(next.id, { status: 'done', loaded: next.file.size });
        void client.invalidateQueries({ queryKey: ['file-list', session] });
      })
      .catch((error: unknown) => {
        const code = (error as { code?: string }).code;
        if (code === 'aborted') return patch(next.id, { status: 'cancelled' });
        const advice =
          code === 'conflict'
            ? 'A file of that name is already there: tick “Replace files that exist” to overwrite it.'
            : errorAdvice(error);
        patch(next.id, { status: 'failed', error: advice });
      })
      .finally(() => {
        running.current = false;
        // Wake the effect for the next one.
        setUploads((list) => [...list]);
      });
  }, [uploads, session, client]);

  const cancel = (upload: Upload) => {
    if (upload.status === 'uploading') upload.abort?.abort();
    else if (upload.status === 'queued') patch(upload.id, { status: 'cancelled' });
    else setUploads((list) => list.filter((u) => u.id !== upload.id));
  };

  const dropProps: Uploads['dropProps'] = {
    onDragOver: (e) => {
      if (!enabled || !e.dataTransfer.types.includes('Files')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      setDragging(true);
    },
    onDragLeave: (e) => {
      if (e.currentTarget.contains(e.relatedTarget as Node | null)) return;
      setDragging(false);
    },
    onDrop: (e) => {
      if (!enabled) return;
      e.preventDefault();
      setDragging(false);
      const items = [...e.dataTransfer.items];
      const folders = items.filter((item) => item.webkitGetAsEntry?.()?.isDirectory).length;
      const files = [...e.dataTransfer.files].filter(
        (_, i) => !items[i]?.webkitGetAsEntry?.()?.isDirectory,
      );
      add(files, dir);
      if (folders > 0)
        setUploads((list) => [
          ...list,
          {
            id: nextId++,
            file: new File([], `${folders} folder${folders === 1 ? '' : 's'}`),
            dir,
            status: 'failed',
            loaded: 0,
            error: 'Folders cannot be uploaded: drop the files inside them, or upload a .tar.gz.',
          },
        ]);
    },
  };

  const panel =
    uploads.length === 0 ? null : (
      <Paper withBorder p="sm" aria-label="Uploads" component="section">
        <Group justify="space-between" mb={6}>
          <Text size="sm" fw={600}>
            Uploads
          </Text>
          <Checkbox
            size="xs"
            label="Replace files that exist"
            checked={overwrite}
            onChange={(e) => setOverwrite(e.currentTarget.checked)}
          />
        </Group>
        <Stack gap={8}>
          {uploads.map((u) => (
            <UploadRow key={u.id} upload={u} onCancel={() => cancel(u)} />
          ))}
        </Stack>
      </Paper>
    );

  return { add, dropProps, dragging, panel };
}

function UploadRow({ upload, onCancel }: { upload: Upload; onCancel: () => void }) {
  const { file, status, loaded } = upload;
  const percent = file.size === 0 ? (status === 'done' ? 100 : 0) : (loaded / file.size) * 100;
  const words: Record<Status, string> = {
    queued: 'waiting',
    uploading: `${formatSize(loaded)} of ${formatSize(file.size)}`,
    done: `uploaded, ${formatSize(file.size)}`,
    failed: 'failed',
    cancelled: 'cancelled',
  };
  const active = status === 'queued' || status === 'uploading';
  return (
    <div data-testid="upload-row" data-status={status}>
      <Group justify="space-between" gap="xs" wrap="nowrap">
        <Text size="sm" truncate className="server-text">
          {visibleText(file.name)}
        </Text>
        <Group gap={4} wrap="nowrap">
          <Text size="xs" c={status === 'failed' ? 'red' : 'dimmed'}>
            {words[status]}
          </Text>
          <Tooltip label={active ? 'Cancel this upload' : 'Remove from the list'}>
            <ActionIcon
              size="sm"
              variant="subtle"
              color="gray"
              onClick={onCancel}
              aria-label={
                active ? `Cancel uploading ${file.name}` : `Remove ${file.name} from the list`
              }
            >
              <IconX size={14} aria-hidden />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      {status !== 'failed' && status !== 'cancelled' && (
        <Progress
          value={percent}
          size="sm"
          color={status === 'done' ? 'green' : 'blue'}
          animated={status === 'uploading'}
          aria-label={`Upload of ${file.name}`}
        />
      )}
      {upload.error && (
        <Text size="xs" c="red" role="alert">
          {upload.error}
        </Text>
      )}
    </div>
  );
}
