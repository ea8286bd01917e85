/** Tests for building exec requests and mapping outcomes to exit statuses. */
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.ts';
import { afterDoubleDash, execCommand, execWords, signalNumber } from './exec.ts';
import { buildRequest, envArg } from './exec-request.ts';

const HOURS = 3_600_000;

describe('cli - exec request', () => {
  it('exec - only the flags given reach the request', () => {
    expect(buildRequest(['uptime'], {})).toEqual({ argv: ['uptime'] });
    const flags = { cwd: '/tmp', env: { A: '1' }, timeout: 5000 };
    expect(buildRequest(['ls', '-la'], flags, 'input')).toEqual({
      argv: ['ls', '-la'],
      cwd: '/tmp',
      env: { A: '1' },
      timeoutMs: 5000,
      stdin: 'input',
    });
  });

  it('exec - a missing command says to put it after --', () => {
    expect(() => buildRequest([], {})).toThrow('put it after --');
  });

  it('exec - --timeout is refused past 24h, before the endpoint sees it', () => {
    expect(() => buildRequest(['id'], { timeout: 25 * HOURS })).toThrow(
      '--timeout must be at most 24h',
    );
    expect(buildRequest(['id'], { timeout: 24 * HOURS }).timeoutMs).toBe(24 * HOURS);
  });

  it('exec - --env collects NAME=value pairs, values may hold =', () => {
    expect(envArg('B=x=y', envArg('A=1'))).toEqual({ A: '1', B: 'x=y' });
    expect(envArg('EMPTY=')).toEqual({ EMPTY: '' });
  });

  it.each(['novalue', '1A=x', 'A-B=x', '=x'])('exec - --env refuses %j', (text) => {
    expect(() => envArg(text)).toThrow('expected NAME=value');
  });

  it('exec - signals map to their numbers with or without SIG', () => {
    expect(signalNumber('KILL')).toBe(9);
    expect(signalNumber('SIGTERM')).toBe(15);
    expect(signalNumber('NOT_A_SIGNAL')).toBe(15);
  });
});

describe('cli - exec words', () => {
  const { options } = execCommand();
  const literals = [
    { name: 'what follows --', args: ['web', '--', 'ls', '-l'], literal: ['ls', '-l'] },
    { name: 'nothing without --', args: ['web', 'uptime'], literal: undefined },
    { name: 'nothing after a bare --', args: ['web', '--'], literal: [] },
    {
      name: 'a -- that is an option value',
      args: ['--cwd', '--', 'web', '--', 'ls'],
      literal: ['ls'],
    },
    {
      name: 'a later -- as a word',
      args: ['--agents', 'a', '--', 'echo', '--'],
      literal: ['echo', '--'],
    },
  ];
  it.each(literals)('exec - the literal part is $name', ({ args, literal }) => {
    expect(afterDoubleDash(args, options)).toEqual(literal);
  });

  it('exec - the word before -- is the agent, the rest the command', () => {
    expect(execWords(['web', 'ls', '-l'], ['ls', '-l'])).toEqual({
      agent: 'web',
      argv: ['ls', '-l'],
    });
    expect(execWords(['web', 'uptime'], undefined)).toEqual({ agent: 'web', argv: ['uptime'] });
  });

  it('exec - a command with no AGENT says the agent is missing, not the command', () => {
    const message = 'give an AGENT (name or id), or --agents/--account';
    expect(() => execWords(['id'], ['id'])).toThrow(message);
    expect(() => execWords([], undefined)).toThrow(message);
  });

  it('exec - an AGENT with --agents or --account is a usage error naming both', () => {
    expect(() => execWords(['local', 'id'], ['id'], '--agents')).toThrow(
      'give an AGENT or --agents, not both (got AGENT "local")',
    );
    expect(() => execWords(['web', 'id'], ['id'], '--account')).toThrow(UsageError);
  });

  it('exec - with --agents every word after -- is the command, agent-like or not', () => {
    expect(execWords(['local', 'id'], ['local', 'id'], '--agents')).toEqual({
      argv: ['local', 'id'],
    });
    expect(execWords(['uname', '-r'], undefined, '--account')).toEqual({ argv: ['uname', '-r'] });
  });
});
