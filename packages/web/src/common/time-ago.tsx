/** A relative time that keeps itself current, with the exact time on hover and for readers. */
import { useEffect, useState } from 'react';
import { Text, Tooltip, type TextProps } from '@mantine/core';
import { absoluteTime, relativeTime } from './relative-time.ts';

/** Relative times are in whole minutes past the first minute; redrawing more often shows nothing. */
const TICK_MS = 15_000;

export function TimeAgo({ iso, ...props }: { iso: string | null } & TextProps) {
  const now = useNow();
  const exact = absoluteTime(iso);
  const text = (
    <Text component="time" dateTime={iso ?? undefined} size="sm" {...props}>
      {relativeTime(iso, now)}
    </Text>
  );
  return exact ? <Tooltip label={exact}>{text}</Tooltip> : text;
}

function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, []);
  return now;
}
