import { describe, expect, it } from 'vitest';
import { sessionFromTokens } from './enhanced-sso.ts';
import { SessionExpiredError } from './errors.ts';
import { clockSkew, readJwtClaims } from './lanyard-api.ts';
import { acceptLegacyToken } from './legacy-sso.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: 'ES256' })}.${b64(claims)}.sig`;
const SERVER_NOW = Date.parse('2030-05-01T09:00:00Z');
const HOUR = 3600_000;

describe('clock alignment with the server', () => {
  it('reads claims without verifying them, and tolerates garbage', () => {
    expect(readJwtClaims(jwt({ iat: 1, full_name: 'Zoë' }))).toEqual({ iat: 1, full_name: 'Zoë' });
    expect(readJwtClaims('not-a-jwt')).toEqual({});
    expect(readJwtClaims('a.%%%.c')).toEqual({});
  });

  it('ignores differences of a few seconds (latency, whole-second iat)', () => {
    expect(clockSkew(jwt({ iat: SERVER_NOW / 1000 }), SERVER_NOW + 3_000)).toBe(0);
  });

  it('moves server times onto a device clock that is 20 minutes fast, so the token is neither expired nor refreshed in a loop', () => {
    const deviceNow = SERVER_NOW + 20 * 60_000;
    const session = sessionFromTokens(
      {
        access_token: jwt({ iat: SERVER_NOW / 1000 }),
        refresh_token: 'lrt_1',
        token_info: { account_sid: 'AC1', identity: 'ada', roles: ['agent'] },
        access_token_expires_at: new Date(SERVER_NOW + HOUR).toISOString(),
        session_expires_at: new Date(SERVER_NOW + 12 * HOUR).toISOString(),
      },
      deviceNow,
    );
    expect(session.expiresAt).toBe(deviceNow + HOUR);
    expect(session.sessionExpiresAt).toBe(deviceNow + 12 * HOUR);
    expect(session.sessionCapped).toBe(false);
  });

  it('refuses a legacy token that has already expired, when it carries no issue time to align clocks with', () => {
    // (A Lanyard token always has `iat`; a stale link is refused earlier: no sign-in is pending for it.)
    const payload = {
      token: 'opaque-token',
      expiration: new Date(SERVER_NOW - HOUR).toISOString(),
      identity: 'ada',
      roles: ['agent'],
      flexUserSid: null,
    };
    expect(() => acceptLegacyToken(payload, 'AC1', SERVER_NOW)).toThrow(SessionExpiredError);
    const fresh = { ...payload, token: jwt({ iat: SERVER_NOW / 1000, full_name: 'Ada' }), expiration: new Date(SERVER_NOW + HOUR).toISOString() };
    expect(acceptLegacyToken(fresh, 'AC1', SERVER_NOW).user).toMatchObject({ identity: 'ada', fullName: 'Ada', roles: ['agent'] });
  });
});
