/** Tests for carrying the sign-in session from login to token creation. */
import { describe, expect, it } from 'vitest';
import { cookieHeader } from './login.ts';

describe('cli - login', () => {
  it('login - Set-Cookie lines become one Cookie header without their attributes', () => {
    const header = cookieHeader([
      'tether_session=abc%20d; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600',
      'other=1; Secure',
    ]);
    expect(header).toBe('tether_session=abc%20d; other=1');
  });
});
