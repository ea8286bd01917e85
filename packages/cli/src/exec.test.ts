/** Tests for building exec requests and mapping outcomes to exit statuses. */
import { describe, expect, it } from 'vitest';
import { signalNumber } from './exec.ts';
import { buildRequest, envArg } from './exec-request.ts';

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
