/** Steps through an editing session's saves of one file: each save's diff and what it left. */
import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Button, Code, Group, Modal, ScrollArea, Stack, Tabs, Text } from '@mantine/core';
import {
  IconChevronLeft,
  IconChevronRight,
  IconPlayerPause,
  IconPlayerPlay,
} from '@tabler/icons-react';
import { ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { filesApi, type FileEvent } from './files-api.ts';
import { UnifiedDiff } from './unified-diff.tsx';

/** Long enough to read a small diff; Pause stops on any step. */
const PLAY_STEP_MS = 2500;

export function SaveReplay({ saves, onClose }: { saves: FileEvent[]; onClose: () => void }) {
  const [step, setStep] = useState(0);
  const [playing, setPlaying] = useState(false);
  const save = saves[step];
  const last = saves.length - 1;

  useEffect(() => {
    if (!playing) return;
    if (step >= last) return setPlaying(false);
    const timer = setTimeout(() => setStep((s) => Math.min(last, s + 1)), PLAY_STEP_MS);
    return () => clearTimeout(timer);
  }, [playing, step, last]);

  const detail = useQuery({
    queryKey: ['file-event', save?.id],
    queryFn: () => filesApi.event(save!.id),
    enabled: save !== undefined,
    staleTime: Infinity,
  });
  const after = useQuery({
    queryKey: ['file-blob', save?.afterHash],
    queryFn: () => filesApi.blobText(save!.afterHash!),
    enabled: Boolean(save?.afterHash),
    staleTime: Infinity,
  });

  return (
    <Modal
      opened
      onClose={onClose}
      size="xl"
      title={save ? `Replaying saves of ${visibleText(save.path)}` : 'Replaying saves'}
    >
      {!save ? (
        <Text size="sm">No saves to replay.</Text>
      ) : (
        <Stack gap="sm" data-testid="save-replay">
          <Group justify="space-between">
            <Text size="sm" aria-live="polite" data-testid="replay-step">
              Save {step + 1} of {saves.length}, by {visibleText(save.username)} at{' '}
              {new Date(save.at).toLocaleString()}
            </Text>
            <Group gap="xs">
              <Button
                size="xs"
                variant="default"
                leftSection={<IconChevronLeft size={14} aria-hidden />}
                disabled={step === 0}
                onClick={() => setStep(step - 1)}
              >
                Previous
              </Button>
              <Button
                size="xs"
                variant="light"
                leftSection={
                  playing ? (
                    <IconPlayerPause size={14} aria-hidden />
                  ) : (
                    <IconPlayerPlay size={14} aria-hidden />
                  )
                }
                disabled={!playing && step === last}
                onClick={() => setPlaying(!playing)}
              >
                {playing ? 'Pause' : 'Play'}
              </Button>
              <Button
                size="xs"
                variant="default"
                rightSection={<IconChevronRight size={14} aria-hidden />}
                disabled={step === last}
                onClick={() => setStep(step + 1)}
              >
                Next
              </Button>
            </Group>
          </Group>
          <Tabs defaultValue="diff" keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="diff">What this save changed</Tabs.Tab>
              <Tabs.Tab value="content">The file after it</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="diff" pt="xs">
              {detail.isPending && <Loading label="Loading the diff…" />}
              {detail.isError && <ErrorState title="Cannot load this save" error={detail.error} />}
              {detail.data && (
                <UnifiedDiff diff={detail.data.diff ?? ''} label={`Save ${step + 1} changes`} />
              )}
            </Tabs.Panel>
            <Tabs.Panel value="content" pt="xs">
              {!save.afterHash && <Text size="sm">The saved content was not kept.</Text>}
              {after.isPending && save.afterHash && <Loading label="Loading the saved content…" />}
              {after.isError && <ErrorState title="Cannot load the content" error={after.error} />}
              {after.data !== undefined && (
                <ScrollArea.Autosize mah={420} type="auto">
                  <Code block className="server-text" data-testid="replay-content">
                    {visibleText(after.data)}
                  </Code>
                </ScrollArea.Autosize>
              )}
            </Tabs.Panel>
          </Tabs>
        </Stack>
      )}
    </Modal>
  );
}
