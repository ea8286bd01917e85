/** The browser's dialogs: new folder, rename, delete (with confirmation) and change mode. */
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  Button,
  Checkbox,
  Code,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { errorAdvice } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { formatMode, octalMode, parseOctalMode } from './file-format.ts';
import { childRef, nameProblem, type FileRef } from './file-paths.ts';
import { filesApi, type Entry } from './files-api.ts';

export type EntryAction =
  | { kind: 'mkdir' }
  | { kind: 'rename'; entry: Entry }
  | { kind: 'delete'; entry: Entry }
  | { kind: 'chmod'; entry: Entry };

export function EntryDialog({
  session,
  dir,
  action,
  onClose,
}: {
  session: string;
  dir: FileRef;
  action: EntryAction;
  onClose: () => void;
}) {
  const client = useQueryClient();
  const done = (message: string) => {
    notifications.show({ color: 'green', message });
    void client.invalidateQueries({ queryKey: ['file-list', session] });
    onClose();
  };
  const props = { session, dir, done, onClose };
  switch (action.kind) {
    case 'mkdir':
      return <NewFolder {...props} />;
    case 'rename':
      return <Rename {...props} entry={action.entry} />;
    case 'delete':
      return <Delete {...props} entry={action.entry} />;
    case 'chmod':
      return <ChangeMode {...props} entry={action.entry} />;
  }
}

interface DialogProps {
  session: string;
  dir: FileRef;
  done: (message: string) => void;
  onClose: () => void;
}

function NewFolder({ session, dir, done, onClose }: DialogProps) {
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const problem = nameProblem(name);
  const make = useMutation({
    mutationFn: () => filesApi.mkdir(session, childRef(dir, { name })),
    onSuccess: () => done(`Folder ${name} made.`),
  });
  return (
    <Modal opened onClose={onClose} title={`New folder in ${visibleText(dir.path)}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (!problem) make.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Folder name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={touched ? problem : null}
            data-autofocus
          />
          <Failure error={make.error} />
          <Actions onClose={onClose} busy={make.isPending} label="Make folder" />
        </Stack>
      </form>
    </Modal>
  );
}

function Rename({ session, dir, entry, done, onClose }: DialogProps & { entry: Entry }) {
  const [name, setName] = useState(entry.name);
  const problem = nameProblem(name) ?? (name === entry.name ? 'Give it a new name.' : null);
  const from = childRef(dir, entry).path;
  const to = childRef(dir, { name }).path;
  const rename = useMutation({
    mutationFn: () => filesApi.rename(session, from, to),
    onSuccess: () => done(`Renamed to ${name}.`),
  });
  return (
    <Modal opened onClose={onClose} title={`Rename ${visibleText(entry.name)}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!problem) rename.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="New name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={name !== entry.name ? nameProblem(name) : null}
            data-autofocus
          />
          <Failure error={rename.error} />
          <Actions onClose={onClose} busy={rename.isPending} label="Rename" disabled={!!problem} />
        </Stack>
      </form>
    </Modal>
  );
}

function Delete({ session, dir, entry, done, onClose }: DialogProps & { entry: Entry }) {
  const folder = entry.type === 'dir';
  const [sure, setSure] = useState(false);
  const target = childRef(dir, entry);
  const remove = useMutation({
    mutationFn: () => filesApi.remove(session, target, folder),
    onSuccess: () => done(`${visibleText(entry.name)} deleted.`),
  });
  return (
    <Modal opened onClose={onClose} title={`Delete ${folder ? 'folder' : 'file'}?`}>
      <Stack>
        <Text size="sm">
          <Code className="server-text">{visibleText(target.path)}</Code> will be deleted from the
          server. This cannot be undone
          {folder ? '' : ', though the history keeps what was saved through Tether'}.
        </Text>
        {folder && (
          <Checkbox
            label="Delete the folder and everything in it"
            checked={sure}
            onChange={(e) => setSure(e.currentTarget.checked)}
          />
        )}
        <Failure error={remove.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            color="red"
            loading={remove.isPending}
            disabled={folder && !sure}
            onClick={() => remove.mutate()}
            data-autofocus
          >
            Delete
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

const WHO = [
  ['Owner', 6],
  ['Group', 3],
  ['Others', 0],
] as const;
const WHAT = [
  ['read', 4],
  ['write', 2],
  ['execute', 1],
] as const;

function ChangeMode({ session, dir, entry, done, onClose }: DialogProps & { entry: Entry }) {
  const [text, setText] = useState(octalMode(entry.mode));
  const mode = parseOctalMode(text);
  const chmod = useMutation({
    mutationFn: () => filesApi.chmod(session, childRef(dir, entry), mode!),
    onSuccess: () => done(`Mode of ${visibleText(entry.name)} is now ${octalMode(mode!)}.`),
  });
  const toggle = (bit: number, on: boolean) =>
    setText(octalMode(on ? (mode ?? 0) | bit : (mode ?? 0) & ~bit));
  return (
    <Modal opened onClose={onClose} title={`Change the mode of ${visibleText(entry.name)}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (mode !== null) chmod.mutate();
        }}
      >
        <Stack>
          <Table aria-label="Permissions" withRowBorders={false} verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th />
                {WHAT.map(([label]) => (
                  <Table.Th key={label}>{label}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {WHO.map(([who, shift]) => (
                <Table.Tr key={who}>
                  <Table.Th scope="row">{who}</Table.Th>
                  {WHAT.map(([what, bit]) => (
                    <Table.Td key={what}>
                      <Checkbox
                        aria-label={`${who} may ${what}`}
                        checked={mode !== null && (mode & (bit << shift)) !== 0}
                        onChange={(e) => toggle(bit << shift, e.currentTarget.checked)}
                      />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <TextInput
            label="Mode (octal)"
            description={mode !== null ? formatMode(mode, entry.type) : undefined}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            error={mode === null ? 'Three or four octal digits, like 644 or 0755.' : null}
            w={220}
          />
          <Failure error={chmod.error} />
          <Actions
            onClose={onClose}
            busy={chmod.isPending}
            label="Change mode"
            disabled={mode === null}
          />
        </Stack>
      </form>
    </Modal>
  );
}

function Failure({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <Alert color="red" variant="light" role="alert" title="Not done">
      {errorAdvice(error)}
    </Alert>
  );
}

function Actions({
  onClose,
  busy,
  label,
  disabled,
}: {
  onClose: () => void;
  busy: boolean;
  label: string;
  disabled?: boolean;
}) {
  return (
    <Group justify="flex-end">
      <Button variant="default" onClick={onClose}>
        Cancel
      </Button>
      <Button type="submit" loading={busy} disabled={disabled}>
        {label}
      </Button>
    </Group>
  );
}
