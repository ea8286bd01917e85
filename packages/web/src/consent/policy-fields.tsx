/** Form fields of the consent policy: how an action is allowed, and lists of paths or targets. */
import { useEffect, useState } from 'react';
import { Radio, Stack, Textarea } from '@mantine/core';
import type { ActionMode } from '@tether/protocol';

/** The protocol's limits (packages/protocol/src/terminal.ts), checked here to say so early. */
const LIST_MAX = 100;
const RULES = {
  path: {
    test: (line: string) => /^\/[^\0]*$/.test(line) && line.length <= 4096,
    wrong: 'is not an absolute path (it must start with /)',
  },
  target: {
    test: (line: string) => /^[^\s\0]+:(\*|\d{1,5})$/.test(line) && line.length <= 300,
    wrong: 'is not host:port or host:*',
  },
} as const;

export type ListKind = keyof typeof RULES;

/** What is wrong with a list, in one sentence, or null when nothing is. */
export function listProblem(list: readonly string[], kind: ListKind): string | null {
  if (list.length > LIST_MAX) return `At most ${LIST_MAX} entries, please.`;
  const bad = list.find((line) => !RULES[kind].test(line));
  return bad === undefined ? null : `“${bad}” ${RULES[kind].wrong}.`;
}

export function parseList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

export function AccessModeField({
  label,
  value,
  onChange,
  verb,
}: {
  label: string;
  value: ActionMode;
  onChange: (mode: ActionMode) => void;
  /** What the engineer does, in the options' wording: read, change, forward. */
  verb: string;
}) {
  return (
    <Radio.Group label={label} value={value} onChange={(next) => onChange(next as ActionMode)}>
      <Stack gap={6} mt={6}>
        <Radio value="always_ask" label="Ask me first" />
        <Radio
          value="preapprove_assignee"
          label={`Ask me first, unless it is the engineer working my support request`}
        />
        <Radio value="allow" label={`Let engineers ${verb} without asking`} />
        <Radio value="off" label={`Nobody may ${verb} (switched off)`} />
      </Stack>
    </Radio.Group>
  );
}

/** One entry per line; the text is kept as typed, the list is what the policy gets. */
export function ListField({
  label,
  description,
  placeholder,
  value,
  kind,
  onChange,
}: {
  label: string;
  description: string;
  placeholder: string;
  value: string[];
  kind: ListKind;
  onChange: (list: string[]) => void;
}) {
  const [text, setText] = useState(() => value.join('\n'));
  // A reload of the policy from the server replaces what is shown.
  useEffect(() => {
    setText((current) =>
      parseList(current).join('\n') === value.join('\n') ? current : value.join('\n'),
    );
  }, [value]);
  const problem = listProblem(parseList(text), kind);
  return (
    <Textarea
      label={label}
      description={description}
      placeholder={placeholder}
      autosize
      minRows={2}
      maxRows={8}
      maw={560}
      value={text}
      error={problem}
      spellCheck={false}
      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
      onChange={(event) => {
        setText(event.currentTarget.value);
        onChange(parseList(event.currentTarget.value));
      }}
    />
  );
}
