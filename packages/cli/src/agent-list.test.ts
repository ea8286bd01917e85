/** Tests for turning agent names and ids into agents. */
import { describe, expect, it } from 'vitest';
import { resolveAgent, resolveAgents, type AgentView } from './agent-list.ts';
import { UsageError } from './errors.ts';

function agent(id: string, name: string, accountName = 'acme'): AgentView {
  return {
    id,
    name,
    accountId: `acc-${accountName}`,
    accountName,
    online: true,
    os: 'linux',
    arch: 'x64',
    version: '0.1.0',
    lastSeenAt: null,
    ...{ revoked: false, hostname: null, connectedAt: null, enrolledAt: '', revokedAt: null },
  };
}

const agents = [
  agent('a1', 'web-01'),
  agent('a2', 'db'),
  agent('a3', 'db', 'globex'),
  agent('a4', 'a1'),
];

describe('cli - agent resolution', () => {
  it('resolve - an exact id wins', () => {
    expect(resolveAgent(agents, 'a2').id).toBe('a2');
  });

  it('resolve - an id wins over an agent whose name equals it', () => {
    expect(resolveAgent(agents, 'a1').name).toBe('web-01');
  });

  it('resolve - a unique name finds its agent', () => {
    expect(resolveAgent(agents, 'web-01').id).toBe('a1');
  });

  it('resolve - an ambiguous name is an error listing every matching id', () => {
    const attempt = () => resolveAgent(agents, 'db');
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/2 agents are named "db"/);
    expect(attempt).toThrow(/a2 +\(account acme\)\n +a3 +\(account globex\)/);
  });

  it('resolve - a missing agent is an error naming what was asked', () => {
    expect(() => resolveAgent(agents, 'web-02')).toThrow('no agent named "web-02"');
  });

  it('resolve - names are matched exactly, not by prefix or case', () => {
    expect(() => resolveAgent(agents, 'web')).toThrow(UsageError);
    expect(() => resolveAgent(agents, 'WEB-01')).toThrow(UsageError);
  });

  it('resolve - many refs resolve once each, in order', () => {
    const ids = resolveAgents(agents, ['web-01', 'a2', 'a1']).map((found) => found.id);
    expect(ids).toEqual(['a1', 'a2']);
  });
});
