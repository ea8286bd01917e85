/** The one place that decides whether a person may forward to a target, as a table. */
import { describe, expect, it } from 'vitest';
import type { ConsentPolicy } from '@tether/protocol';
import { parseTarget } from '@tether/protocol/forward-target';
import type { Principal } from '../auth/principal.ts';
import { DEFAULT_POLICY } from '../consent/consent-policy.ts';
import { decideForward } from './forward-policy.ts';

const engineer: Principal = {
  userId: 'u-eng',
  username: 'eng',
  role: 'engineer',
  accountId: null,
  reportIds: [],
};
const customer: Principal = { ...engineer, userId: 'u-cust', role: 'customer', accountId: 'acme' };

const rows: Array<{
  name: string;
  who: Principal;
  policy: Partial<ConsentPolicy>;
  target: string;
  decision: ReturnType<typeof decideForward>;
}> = [
  {
    name: 'an engineer with no list goes through the approvals',
    who: engineer,
    policy: {},
    target: '127.0.0.1:5432',
    decision: { allowed: true, listed: false, ask: true },
  },
  {
    name: 'forwarding off refuses everyone',
    who: engineer,
    policy: { forwardMode: 'off', selfService: true },
    target: '127.0.0.1:5432',
    decision: { allowed: false, reason: 'the account has switched port forwarding off' },
  },
  {
    name: 'forwarding off refuses customers too',
    who: customer,
    policy: { forwardMode: 'off', selfService: true },
    target: '127.0.0.1:5432',
    decision: { allowed: false, reason: 'the account has switched port forwarding off' },
  },
  {
    name: 'a customer without self-service is refused',
    who: customer,
    policy: { forwardMode: 'allow' },
    target: '127.0.0.1:5432',
    decision: {
      allowed: false,
      reason:
        'the account does not let its customers forward ports themselves (self-service is off)',
    },
  },
  {
    name: 'a customer with self-service needs no approval',
    who: customer,
    policy: { selfService: true },
    target: '127.0.0.1:5432',
    decision: { allowed: true, listed: false, ask: false },
  },
  {
    name: 'a target outside a non-empty list is refused',
    who: engineer,
    policy: { forwardTargets: ['db.internal:5432'] },
    target: 'db.internal:5433',
    decision: {
      allowed: false,
      reason: "db.internal:5433 is not in the account's list of forward targets",
    },
  },
  {
    name: 'a listed name is allowed and marked listed',
    who: engineer,
    policy: { forwardTargets: ['db.internal:*'] },
    target: 'DB.Internal:5433',
    decision: { allowed: true, listed: true, ask: true },
  },
  {
    name: 'the metadata address is refused unlisted',
    who: engineer,
    policy: { forwardMode: 'allow' },
    target: '169.254.169.254:80',
    decision: {
      allowed: false,
      reason:
        '169.254.169.254 is a cloud metadata address; the account must list 169.254.169.254:80 to allow it',
    },
  },
  {
    name: 'the IPv6 metadata address is refused unlisted',
    who: engineer,
    policy: { forwardMode: 'allow' },
    target: '[fd00:ec2::254]:80',
    decision: {
      allowed: false,
      reason:
        'fd00:ec2::254 is a cloud metadata address; the account must list [fd00:ec2::254]:80 to allow it',
    },
  },
  {
    name: 'a link-local address inside a listed block is allowed',
    who: engineer,
    policy: { forwardTargets: ['169.254.0.0/16:8080'] },
    target: '169.254.3.4:8080',
    decision: { allowed: true, listed: true, ask: true },
  },
  {
    name: 'listing another port of the metadata address does not open this one',
    who: engineer,
    policy: { forwardTargets: ['169.254.169.254:53'] },
    target: '169.254.169.254:80',
    decision: {
      allowed: false,
      reason: "169.254.169.254:80 is not in the account's list of forward targets",
    },
  },
];

describe('forward policy', () => {
  it.each(rows)('policy - $name', ({ who, policy, target, decision }) => {
    expect(decideForward(who, { ...DEFAULT_POLICY, ...policy }, parseTarget(target))).toEqual(
      decision,
    );
  });
});
