/** Printing for people (aligned tables, relative times) and for programs (`--json`). */

const COLUMN_GAP = '  ';

/** Columns padded to their widest cell; the last column is never padded. */
export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const cells = [headers, ...rows].map((row) => row.map((cell) => printable(cell)));
  const widths = headers.map((_, column) =>
    Math.max(...cells.map((row) => [...(row[column] ?? '')].length)),
  );

  const lines = cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : pad(cell, widths[column])))
      .join(COLUMN_GAP)
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** "now", "42s ago", "5m ago", "3h ago", "2d ago"; "never" without a time. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;

  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 5) return 'now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** "340ms", "1.2s", "30s", "2m05s", "1h00m": short enough for a table column. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  if (ms < 3_600_000) {
    return `${Math.floor(ms / 60_000)}m${twoDigits(Math.floor((ms % 60_000) / 1000))}s`;
  }
  return `${Math.floor(ms / 3_600_000)}h${twoDigits(Math.floor((ms % 3_600_000) / 60_000))}m`;
}

/** Cuts to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Replaces control characters (ESC, CR, BEL, …) so remote output or names shown in a table
 * cannot move the cursor, retitle the terminal or fake other rows.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => (char === '\t' ? ' ' : '?'));
}

function pad(cell: string, width: number): string {
  return cell + ' '.repeat(Math.max(0, width - [...cell].length));
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}
