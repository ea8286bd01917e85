/**
 * Saving: the diff first, then the save. If the file changed on the server since it was opened,
 * the save is refused with a conflict and the diff against what is there now; the editor's text
 * stays as it is, and the engineer chooses what happens to it.
 */
import { useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Alert, Button, Group, Loader, Modal, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconDownload } from '@tabler/icons-react';
import { ApiError } from '../api/client.ts';
import { errorAdvice } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { nameOf } from './file-paths.ts';
import { filesApi, type SaveAnswer } from './files-api.ts';
import { UnifiedDiff } from './unified-diff.tsx';

interface Conflict {
  currentHash: string;
  diff: string;
}

export function SaveReview({
  session,
  path,
  content,
  baseHash,
  onSaved,
  onReload,
  onClose,
}: {
  session: string;
  path: string;
  /** The text as it was when Save was pressed: what is reviewed is what is saved. */
  content: string;
  baseHash: string;
  onSaved: (answer: SaveAnswer) => void;
  /** Throws the editor's text away and opens the file as it is on the server now. */
  onReload: () => void;
  onClose: () => void;
}) {
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const check = useQuery({
    queryKey: ['file-diff', session, path, baseHash, content],
    queryFn: () => filesApi.diff(session, { path, content, baseHash }),
    staleTime: 0,
    gcTime: 0,
    retry: false,
  });
  useEffect(() => {
    if (check.data?.conflict)
      setConflict({ currentHash: check.data.currentHash, diff: check.data.diff });
  }, [check.data]);
  const save = useMutation({
    mutationFn: (base: string) => filesApi.save(session, { path, content, baseHash: base }),
    onSuccess: onSaved,
    onError: (error) => {
      const details = error instanceof ApiError ? error.details : undefined;
      if (error instanceof ApiError && error.code === 'conflict' && details)
        setConflict({
          currentHash: String(details.currentHash ?? ''),
          diff: String(details.diff ?? ''),
        });
    },
  });
  const mine = useMemo(
    () => URL.createObjectURL(new Blob([content], { type: 'text/plain' })),
    [content],
  );
  useEffect(() => () => URL.revokeObjectURL(mine), [mine]);
  const name = visibleText(nameOf(path));

  return (
    <Modal
      opened
      onClose={onClose}
      size="xl"
      title={conflict ? `${name} changed on the server` : `Save ${name}?`}
    >
      <Stack gap="sm">
        {check.isPending && (
          <Group gap="sm" role="status">
            <Loader size="sm" aria-hidden />
            <Text size="sm">Comparing your text with the file on the server…</Text>
          </Group>
        )}
        {check.isError && (
          <Alert color="red" variant="light" role="alert" title="Cannot compare">
            {errorAdvice(check.error)}
          </Alert>
        )}

        {conflict ? (
          <ConflictView
            conflict={conflict}
            path={path}
            mine={mine}
            saving={save.isPending}
            onOverwrite={() => save.mutate(conflict.currentHash)}
            onReload={onReload}
            onClose={onClose}
          />
        ) : (
          check.data && (
            <>
              {check.data.diff.trim() === '' ? (
                <Text size="sm">
                  Nothing to save: your text is the same as the file on the server.
                </Text>
              ) : (
                <>
                  <Text size="sm">
                    These changes will be written to <code>{visibleText(path)}</code>:
                  </Text>
                  <UnifiedDiff diff={check.data.diff} label={`Changes to ${path}`} />
                </>
              )}
              {save.isError &&
                !(save.error instanceof ApiError && save.error.code === 'conflict') && (
                  <Alert color="red" variant="light" role="alert" title="Not saved">
                    {errorAdvice(save.error)} Your text is still in the editor.
                  </Alert>
                )}
              <Group justify="flex-end">
                <Button variant="default" onClick={onClose}>
                  Keep editing
                </Button>
                <Button
                  onClick={() => save.mutate(baseHash)}
                  loading={save.isPending}
                  disabled={check.data.diff.trim() === ''}
                  data-autofocus
                >
                  Save to the server
                </Button>
              </Group>
            </>
          )
        )}
      </Stack>
    </Modal>
  );
}

function ConflictView({
  conflict,
  path,
  mine,
  saving,
  onOverwrite,
  onReload,
  onClose,
}: {
  conflict: Conflict;
  path: string;
  mine: string;
  saving: boolean;
  onOverwrite: () => void;
  onReload: () => void;
  onClose: () => void;
}) {
  const [replacing, setReplacing] = useState(false);
  return (
    <Stack gap="sm" data-testid="save-conflict">
      <Alert
        color="orange"
        variant="light"
        icon={<IconAlertTriangle aria-hidden />}
        role="alert"
        title="Not saved: someone changed the file"
      >
        The file on the server is not the one you opened. Nothing was written, and your text is
        still in the editor. Below is how your text differs from the file as it is now.
      </Alert>
      <UnifiedDiff diff={conflict.diff} label={`Your text against the file on the server now`} />
      <Group justify="space-between">
        <Button
          component="a"
          href={mine}
          download={nameOf(path)}
          variant="subtle"
          size="xs"
          leftSection={<IconDownload size={14} aria-hidden />}
        >
          Download my text
        </Button>
        <Group gap="xs">
          <Button variant="default" onClick={onClose} data-autofocus>
            Keep editing
          </Button>
          <Button variant="light" onClick={onReload}>
            Load the server’s version
          </Button>
          {replacing ? (
            <Button color="red" loading={saving} onClick={onOverwrite}>
              Yes, replace it with mine
            </Button>
          ) : (
            <Button color="red" variant="light" onClick={() => setReplacing(true)}>
              Save mine over it…
            </Button>
          )}
        </Group>
      </Group>
    </Stack>
  );
}
