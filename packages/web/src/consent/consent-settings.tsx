/**
 * A customer's say over their servers: terminals (ask each time or not, how long, what's kept),
 * files (reads and writes: ask, allow, or off; which folders), port forwarding, self-service.
 */
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
import { AccessModeField, ListField, listProblem } from './policy-fields.tsx';

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
      notifications.show({ color: 'green', message: 'Consent settings saved.' });
    },
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not saved', message: errorAdvice(error) }),
  });

  const problems = draft
    ? [
        listProblem(draft.pathAllow, 'path'),
        listProblem(draft.pathDeny, 'path'),
        listProblem(draft.forwardTargets, 'target'),
      ].filter((p): p is string => p !== null)
    : [];

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
            if (problems.length === 0) save.mutate(draft);
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
            <Title order={3} size="h5" mt="sm">
              Files
            </Title>
            <AccessModeField
              label="When an engineer wants to browse and read files"
              value={draft.fileReadMode}
              onChange={(fileReadMode) => setDraft({ ...draft, fileReadMode })}
              verb="read"
            />
            <AccessModeField
              label="When an engineer wants to change files (save, upload, rename, delete, change modes)"
              value={draft.fileWriteMode}
              onChange={(fileWriteMode) => setDraft({ ...draft, fileWriteMode })}
              verb="change"
            />
            <ListField
              label="Only these folders (one absolute path per line)"
              description="Leave empty to allow every folder. Symbolic links are followed before checking."
              placeholder={'/var/www\n/etc/nginx'}
              value={draft.pathAllow}
              kind="path"
              onChange={(pathAllow) => setDraft({ ...draft, pathAllow })}
            />
            <ListField
              label="Never these folders (one absolute path per line)"
              description="Refused even inside an allowed folder."
              placeholder={'/etc/shadow\n/root'}
              value={draft.pathDeny}
              kind="path"
              onChange={(pathDeny) => setDraft({ ...draft, pathDeny })}
            />
            <Title order={3} size="h5" mt="sm">
              Port forwarding
            </Title>
            <AccessModeField
              label="When an engineer wants to forward a port from the server"
              value={draft.forwardMode}
              onChange={(forwardMode) => setDraft({ ...draft, forwardMode })}
              verb="forward"
            />
            <ListField
              label="Only these targets (one per line: host:port or host:*)"
              description="Leave empty to allow any target; link-local and cloud metadata addresses must be listed to be reachable."
              placeholder={'127.0.0.1:5432\ndb.internal:*'}
              value={draft.forwardTargets}
              kind="target"
              onChange={(forwardTargets) => setDraft({ ...draft, forwardTargets })}
            />
            <Switch
              mt="sm"
              label="Let people of my account use files and port forwarding on our servers themselves"
              checked={draft.selfService}
              onChange={(e) => setDraft({ ...draft, selfService: e.currentTarget.checked })}
            />
            <Group justify="space-between">
              <Text size="xs" c="dimmed">
                Applies to every server of your account.
              </Text>
              <Button type="submit" loading={save.isPending} disabled={problems.length > 0}>
                Save consent settings
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Paper>
  );
}
