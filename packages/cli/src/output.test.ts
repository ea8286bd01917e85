/** Tests for tables and the small formatters the tables use. */
import { describe, expect, it } from 'vitest';
import type { AuditEventView } from '@tether/protocol';
import type { AgentView } from './agent-list.ts';
import { agentTable } from './agents.ts';
import { auditTable, summarize } from './audit-view.ts';
import { batchTable } from './exec-batch.ts';
import { formatAgo, formatDuration, formatTable, truncate } from './output.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('cli - table output', () => {
  it('table - pads columns to the widest cell and leaves the last unpadded', () => {
    const text = formatTable(
      ['ID', 'NAME'],
      [
        ['a', 'web-01'],
        ['abcdef', 'db'],
      ],
    );
    expect(text).toBe('ID      NAME\na       web-01\nabcdef  db\n');
  });

  it('table - control characters in cells cannot reach the terminal', () => {
    const text = formatTable(['OUT'], [['\u001b[2Jgone\rfake\u0007']]);
    expect(text).toBe('OUT\n?[2Jgone?fake?\n');
  });

  it('table - agents show "now" when online and a relative time otherwise', () => {
    const base: AgentView = {
      id: 'a1',
      name: 'web-01',
      accountId: 'acc1',
      accountName: 'acme',
      online: true,
      os: 'linux',
      arch: 'x64',
      version: '0.1.0',
      lastSeenAt: '2025-06-01T11:00:00Z',
      ...{ revoked: false, hostname: null, connectedAt: null, enrolledAt: '', revokedAt: null },
    };
    const offline = { ...base, id: 'a2', name: 'db', online: false };
    const lines = agentTable([base, offline], NOW).split('\n');
    expect(lines[0]).toBe('ID  NAME    ACCOUNT  ONLINE  OS     ARCH  VERSION  LAST SEEN');
    expect(lines[1]).toBe('a1  web-01  acme     yes     linux  x64   0.1.0    now');
    expect(lines[2]).toBe('a2  db      acme     no      linux  x64   0.1.0    1h ago');
  });

  it('table - a revoked agent shows as revoked, whichever field says so', () => {
    const base: AgentView = {
      id: 'a1',
      name: 'web-01',
      accountId: 'acc1',
      accountName: 'acme',
      online: false,
      os: 'linux',
      arch: 'x64',
      version: '0.1.0',
      lastSeenAt: '2025-06-01T11:00:00Z',
      ...{ revoked: true, hostname: null, connectedAt: null, enrolledAt: '' },
      revokedAt: '2025-06-01T11:30:00Z',
    };
    // An older endpoint sends only revokedAt; a newer one also the flag.
    const flagged = { ...base, id: 'a2', revokedAt: null, revoked: true };
    const live = { ...base, id: 'a3', revokedAt: null, revoked: false };
    const online = agentTable([base, flagged, live], NOW)
      .split('\n')
      .slice(1, 4)
      .map((line) => line.split(/ +/)[3]);
    expect(online).toEqual(['revoked', 'revoked', 'no']);
  });

  it('table - batch rows show exit, duration and the first line of output', () => {
    const text = batchTable(
      [
        {
          agentId: 'a1',
          agentName: 'web-01',
          ok: true,
          result: {
            exitCode: 0,
            signal: null,
            timedOut: false,
            stdout: '\n active\nmore\n',
            stderr: '',
            truncated: false,
            durationMs: 1200,
          },
        },
        {
          agentId: 'a2',
          ok: false,
          error: { code: 'agent_offline', message: 'agent is offline' },
        },
      ],
      new Map([['a2', 'db']]),
    );
    expect(text).toBe(
      'AGENT   EXIT           DURATION  OUTPUT\n' +
        'web-01  0              1.2s      active\n' +
        'db      agent_offline  -         agent is offline\n',
    );
  });

  it('table - audit rows summarise a command and its outcome', () => {
    const event: AuditEventView = {
      seq: 7,
      id: 'ev7',
      time: '2025-06-01T11:59:58.123Z',
      code: 'T3000I',
      event: 'exec',
      actorId: 'u1',
      actorName: 'admin',
      actorRole: 'admin',
      accountId: 'acc1',
      agentId: 'a1',
      ticketId: null,
      sessionId: 'x1',
      params: { argv: ['sh', '-c', "echo 'hi'"] },
      result: { exitCode: 3, durationMs: 40 },
      prevHash: '',
      hash: '',
    };
    expect(summarize(event)).toBe(`sh -c 'echo '\\''hi'\\''' → exit 3 in 40ms`);
    expect(auditTable([event]).split('\n')[1]).toMatch(
      /^2025-06-01T11:59:58Z {2}T3000I {2}exec {3}admin {2}a1 {5}sh -c/,
    );
  });

  it('table - audit rows name the agent when known, else show the start of its id', () => {
    const event = (agentId: string | null) =>
      ({
        time: '2025-06-01T11:59:58Z',
        code: 'T3000I',
        event: 'exec',
        actorName: 'admin',
        agentId,
        params: {},
        result: {},
      }) as unknown as AuditEventView;
    const known = '0b6c7f1e-3f7a-4c1e-9a43-5d2f0c8e7a11';
    const unknown = '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6';
    const names = new Map([[known, 'web-01']]);
    const agentColumn = auditTable([event(known), event(unknown), event(null)], names)
      .split('\n')
      .slice(1, 4)
      .map((line) => line.split(/ +/)[4]);
    expect(agentColumn).toEqual(['web-01', '7d1e2f3a', '-']);
  });

  it('table - audit rows without a command list the scalar parameters', () => {
    const event = { params: { account: 'acme', count: 2, nested: {} }, result: {} };
    expect(summarize(event as unknown as AuditEventView)).toBe('account=acme count=2');
  });
});

describe('cli - formatters', () => {
  const ago = [
    { at: '2025-06-01T12:00:00Z', text: 'now' },
    { at: '2025-06-01T11:59:30Z', text: '30s ago' },
    { at: '2025-06-01T11:55:00Z', text: '5m ago' },
    { at: '2025-05-30T12:00:00Z', text: '2d ago' },
    { at: null, text: 'never' },
  ];
  it.each(ago)('format - $at is "$text"', ({ at, text }) => {
    expect(formatAgo(at, NOW)).toBe(text);
  });

  it('format - durations stay short', () => {
    expect([340, 1000, 1500, 125_000, 3_660_000].map(formatDuration)).toEqual([
      '340ms',
      '1s',
      '1.5s',
      '2m05s',
      '1h01m',
    ]);
  });

  it('format - truncation marks the cut', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
});
