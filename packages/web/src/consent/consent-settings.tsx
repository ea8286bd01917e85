/** A customer's say over terminals on their servers: ask each time or not, how long, what's kept. */
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Button,
  Group,
  NumberInput,
  Paper,
  Radio,
  Stack,
  Switch,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { api } from '../api/client.ts';
import type { ConsentPolicy } from '../api/types.ts';
import { ErrorState, errorAdvice, Loading } from '../common/states.tsx';

export function ConsentSettings({ accountId }: { accountId: string }) {
  const client = useQueryClient();
  const key = ['consent', accountId];
  const policy = useQuery({ queryKey: key, queryFn: () => api.consent(accountId) });
  const [draft, setDraft] = useState<ConsentPolicy | null>(null);
  useEffect(() => {
    if (policy.data) setDraft(policy.data);
  }, [policy.data]);
  const save = useMutation({
    mutationFn: (next: ConsentPolicy) => api.setConsent(accountId, next),
    onSuccess: (saved) => {
      client.setQueryData(key, saved);
      notifications.show({ color: 'green', message: 'Terminal consent saved.' });
    },
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not saved', message: errorAdvice(error) }),
  });

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="consent-title">
      <Title order={2} size="h4" id="consent-title" mb="xs">
        Terminal consent
      </Title>
      {policy.isPending && <Loading label="Loading your consent settings…" />}
      {policy.isError && (
        <ErrorState
          title="Could not load consent settings"
          error={policy.error}
          onRetry={() => void policy.refetch()}
        />
      )}
      {draft && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate(draft);
          }}
        >
          <Stack gap="sm">
            <Radio.Group
              label="When an engineer asks for a terminal on one of your servers"
              value={draft.terminalMode}
              onChange={(value) =>
                setDraft({ ...draft, terminalMode: value as ConsentPolicy['terminalMode'] })
              }
            >
              <Stack gap={6} mt={6}>
                <Radio value="always_ask" label="Ask me every time" />
                <Radio
                  value="preapprove_assignee"
                  label="Let the engineer working my support request open one without asking"
                />
              </Stack>
            </Radio.Group>
            <NumberInput
              label="Time to answer a request (seconds)"
              description="Between 10 seconds and a day; unanswered requests are refused."
              min={10}
              max={86_400}
              w={280}
              value={draft.timeoutSeconds}
              onChange={(value) =>
                setDraft({ ...draft, timeoutSeconds: typeof value === 'number' ? value : 10 })
              }
            />
            <Switch
              label="Record what engineers type, not only what the terminal shows"
              checked={draft.recordInput}
              onChange={(e) => setDraft({ ...draft, recordInput: e.currentTarget.checked })}
            />
            <Group justify="space-between">
              <Text size="xs" c="dimmed">
                Applies to every server of your account.
              </Text>
              <Button type="submit" loading={save.isPending}>
                Save consent settings
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Paper>
  );
}
