/** The customer's "Open a support request": which server, and what they need help with. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Group, Modal, Select, Stack, Textarea, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { api } from '../api/client.ts';
import { ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentsQuery } from '../servers/queries.ts';

/** The endpoint's limits (packages/endpoint/src/tickets/ticket-routes.ts). */
const TITLE_MAX_CHARS = 200;
const QUESTION_MAX_CHARS = 10_000;

export function OpenRequestModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const client = useQueryClient();
  const agents = useQuery({ ...agentsQuery, enabled: opened });
  const [agent, setAgent] = useState<string | null>(null);
  const [title, setTitle] = useState('');
  const [question, setQuestion] = useState('');
  const send = useMutation({
    mutationFn: () => api.openTicket({ agent: agent!, title: title.trim(), question }),
    onSuccess: () => {
      notifications.show({
        color: 'green',
        title: 'Request sent',
        message: 'An engineer will take it soon; you can follow it on this page.',
      });
      void client.invalidateQueries({ queryKey: ['tickets'] });
      setTitle('');
      setQuestion('');
      onClose();
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    send.mutate();
  };
  const servers = (agents.data ?? []).filter((a) => !a.revokedAt);

  return (
    <Modal opened={opened} onClose={onClose} title="Open a support request" size="lg">
      <form onSubmit={submit}>
        <Stack>
          {agents.isPending && <Loading label="Loading your servers…" />}
          {agents.isError && (
            <ErrorState
              title="Could not load your servers"
              error={agents.error}
              onRetry={() => void agents.refetch()}
            />
          )}
          <Select
            label="Server"
            description="The server you need help with"
            placeholder={servers.length ? 'Pick a server' : 'Add a server first'}
            data={servers.map((a) => ({
              value: a.id,
              label: `${visibleText(a.name)}${a.online ? '' : ' (offline)'}`,
            }))}
            value={agent}
            onChange={setAgent}
            required
          />
          <TextInput
            label="Subject"
            placeholder="e.g. Website returns 502 since this morning"
            maxLength={TITLE_MAX_CHARS}
            value={title}
            onChange={(e) => setTitle(e.currentTarget.value)}
            required
          />
          <Textarea
            label="What do you need help with?"
            description="What happened, since when, and what you have tried"
            autosize
            minRows={4}
            maxRows={12}
            maxLength={QUESTION_MAX_CHARS}
            value={question}
            onChange={(e) => setQuestion(e.currentTarget.value)}
            required
          />
          {send.isError && <ErrorState title="The request was not sent" error={send.error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button
              type="submit"
              loading={send.isPending}
              disabled={!agent || !title.trim() || !question.trim()}
            >
              Send request
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
