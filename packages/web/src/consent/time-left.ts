/** How long a consent request has left, for the prompt's countdown. */

/** Whole seconds from `now` until `expiresAt` (never below 0; 0 for an unreadable time). */
export function secondsLeft(expiresAt: string, now: number = Date.now()): number {
  const until = Date.parse(expiresAt);
  if (Number.isNaN(until)) return 0;
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/** "4 min 05 s left", "42 s left", "1 h 02 min left", or "expired". */
export function formatTimeLeft(seconds: number): string {
  if (seconds <= 0) return 'expired';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min left`;
  if (m > 0) return `${m} min ${String(s).padStart(2, '0')} s left`;
  return `${s} s left`;
}

/** A duration in milliseconds as "2 min 05 s", "850 ms", or "—" when unknown. */
export function formatDurationMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, '0')} s`;
  return `${s} s`;
}
