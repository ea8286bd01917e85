/** A unified diff as coloured lines of text: added, removed, hunk headers, context. */
import { Code, ScrollArea, Text } from '@mantine/core';
import { visibleText } from '../common/visible-text.ts';

type LineKind = 'add' | 'remove' | 'hunk' | 'header' | 'context';

/** Lines longer than this are cut in the view (the saved content keeps them whole). */
const MAX_LINE_CHARS = 2000;
/** A diff beyond this many lines is cut, saying so: the browser would crawl otherwise. */
const MAX_LINES = 5000;

export function classify(line: string): LineKind {
  if (line.startsWith('+++') || line.startsWith('---')) return 'header';
  if (line.startsWith('Index: ') || /^=+$/.test(line)) return 'header';
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'remove';
  return 'context';
}

/** Counts of added and removed lines, for a one-line summary. */
export function diffStats(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    const kind = classify(line);
    if (kind === 'add') added += 1;
    if (kind === 'remove') removed += 1;
  }
  return { added, removed };
}

export function UnifiedDiff({
  diff,
  label,
  maxHeight = 420,
}: {
  diff: string;
  /** Names the diff for screen readers: "Changes to /etc/app.yml". */
  label: string;
  maxHeight?: number;
}) {
  const lines = diff.replace(/\n$/, '').split('\n');
  if (diff.trim() === '')
    return (
      <Text size="sm" c="dimmed">
        No differences.
      </Text>
    );
  const shown = lines.slice(0, MAX_LINES);
  const { added, removed } = diffStats(diff);
  return (
    <figure className="diff-figure" aria-label={label}>
      <Text size="xs" c="dimmed" component="figcaption" mb={4}>
        <span className="diff-count-add">+{added}</span>{' '}
        <span className="diff-count-remove">−{removed}</span> lines
        {lines.length > MAX_LINES
          ? ` (first ${MAX_LINES} of ${lines.length} diff lines shown)`
          : ''}
      </Text>
      <ScrollArea.Autosize mah={maxHeight} type="auto">
        <Code block className="unified-diff" data-testid="unified-diff">
          {shown.map((line, i) => (
            <span key={i} className={`diff-line diff-${classify(line)}`}>
              {visibleText(
                line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line,
              )}
              {'\n'}
            </span>
          ))}
        </Code>
      </ScrollArea.Autosize>
    </figure>
  );
}
