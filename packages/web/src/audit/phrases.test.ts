import { describe, expect, it } from 'vitest';
import { AUDIT } from '@tether/protocol';
import type { AuditEvent } from '../api/types.ts';
import { commandOf, describeEvent, formatDuration, outcomeOf, PHRASES } from './phrases.ts';

function event(fields: Partial<AuditEvent>): AuditEvent {
  return {
    seq: 1,
    id: 'e1',
    time: '2026-12-04T12:00:00.000Z',
    code: 'T3000I',
    event: 'exec',
    actorId: 'u1',
    actorName: 'ann',
    actorRole: 'customer',
    accountId: 'acc',
    agentId: 'ag1',
    ticketId: null,
    sessionId: null,
    params: {},
    result: {},
    prevHash: '',
    hash: '',
    ...fields,
  };
}

describe('audit phrases', () => {
  it('phrases - every audit code has a phrase', () => {
    const codes = Object.values(AUDIT).map((a) => a.code);
    expect(codes.filter((code) => !(code in PHRASES))).toEqual([]);
  });

  const sentences = [
    { name: 'a person ran a command', e: { code: 'T3000I' }, text: 'ann ran a command' },
    {
      name: 'the server connected',
      e: { code: 'T2001I', actorName: null },
      text: 'web-1 connected',
    },
    {
      name: 'the server disconnected',
      e: { code: 'T2002I', actorName: null },
      text: 'web-1 disconnected',
    },
    {
      name: 'no actor and no server',
      e: { code: 'T6000I', actorName: null, agentId: null },
      text: 'Tether read the audit log',
    },
    {
      name: 'an unknown code says what it is',
      e: { code: 'T9999I', event: 'future.thing' },
      text: 'ann did future.thing (T9999I)',
    },
  ];
  for (const s of sentences) {
    it(`phrases - ${s.name}`, () => {
      expect(describeEvent(event(s.e), 'web-1')).toBe(s.text);
    });
  }

  it('phrases - a command shows its argv quoted, exit status and duration', () => {
    const summary = commandOf(
      event({
        params: { argv: ['sh', '-c', "echo 'hi' <b>"] },
        result: { exitCode: 2, signal: null, timedOut: false, durationMs: 1234 },
      }),
    )!;
    expect(summary.command).toBe(`sh -c 'echo '\\''hi'\\'' <b>'`);
    expect(outcomeOf(summary)).toEqual({ label: 'exit 2', ok: false });
    expect(formatDuration(summary.durationMs!)).toBe('1.2 s');
  });

  it('phrases - timeouts and signals outrank the exit code', () => {
    const base = { command: 'x', exitCode: null, durationMs: null, error: null };
    expect(outcomeOf({ ...base, signal: null, timedOut: true })?.label).toBe('timed out');
    expect(outcomeOf({ ...base, signal: 'SIGKILL', timedOut: false })?.label).toBe(
      'killed by SIGKILL',
    );
    expect(outcomeOf({ ...base, signal: null, timedOut: false })).toBeNull();
  });

  it('phrases - fields of the wrong type from the server are ignored, not shown', () => {
    const summary = commandOf(event({ params: { command: 42 }, result: { exitCode: '0' } }))!;
    expect(summary).toMatchObject({ command: '', exitCode: null });
    expect(commandOf(event({ code: 'T2001I' }))).toBeNull();
  });

  it('phrases - durations read naturally', () => {
    expect(formatDuration(12)).toBe('12 ms');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(120_000)).toBe('2 min');
  });
});
