import { describe, expect, it } from 'vitest';
import { sessionFromTokens } from './enhanced-sso.ts';
import { NetworkError, ServerError, SessionExpiredError, type LanyardError } from './errors.ts';
import { clockSkew, defaultFetch, postJson, readJwtClaims, withTimeout } from './lanyard-api.ts';
import { validateAppConfig } from './app-config.ts';
import { LanyardClient } from './lanyard-client.ts';
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

describe('a request to Lanyard that gets no whole answer', () => {
  /** A real HTTP server answering each request as `answer` does (or not at all). */
  async function serverThat(answer: (res: import('node:http').ServerResponse) => void) {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => answer(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/v1/Flex/OAuth/Tokens`,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      },
    };
  }
  /** How `postJson` through `withTimeout(…, 300)` settled, and after how long (ms). */
  async function post(url: string) {
    const started = performance.now();
    try {
      return { value: await postJson(withTimeout(defaultFetch, 300), url, { grant_type: 'refresh_token' }), ms: performance.now() - started };
    } catch (error) {
      return { error: error as LanyardError, ms: performance.now() - started };
    }
  }

  it('fails as a NetworkError naming the limit when no answer comes, and when a success stops halfway (never as an empty success)', async () => {
    const silent = await serverThat(() => undefined);
    const halfway = await serverThat((res) => res.writeHead(200, { 'content-type': 'application/json' }).write('{"access_token":"eyJ'));
    try {
      for (const server of [silent, halfway]) {
        const outcome = await post(server.url);
        expect(outcome.error).toBeInstanceOf(NetworkError);
        expect(outcome.error?.message).toMatch(/^No answer from the sign-in server at http:\/\/127\.0\.0\.1:\d+ in time \(requestTimeoutMs\)\. /);
        expect(outcome.ms).toBeGreaterThanOrEqual(280);
        expect(outcome.ms).toBeLessThan(3_000);
      }
    } finally {
      await silent.close();
      await halfway.close();
    }
  });

  it('reports a failure that stops halfway by its status, and passes an answer within the limit', async () => {
    const failing = await serverThat((res) => res.writeHead(503, { 'content-type': 'application/json' }).write('{"code":20503,'));
    const answering = await serverThat((res) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 100));
    try {
      const failed = await post(failing.url);
      expect(failed.error).toBeInstanceOf(ServerError);
      expect(failed.error?.message).toMatch(/^The sign-in server answered HTTP 503\./);
      expect((await post(answering.url)).value).toEqual({ ok: true });
    } finally {
      await failing.close();
      await answering.close();
    }
  });

  it('LanyardClient refuses a requestTimeoutMs outside 1–600,000', () => {
    const config = validateAppConfig(
      { serviceBaseUrl: 'https://sso.example.com', sso: { accountSid: 'AC' + '0'.repeat(32) } },
      { pageUrl: 'https://desktop.example.com/' },
    );
    if (!config.ok) throw new Error('the test config is invalid');
    for (const requestTimeoutMs of [0, -1, Number.NaN, 600_001])
      expect(() => new LanyardClient(config.config, { storage: 'memory', channel: null, requestTimeoutMs })).toThrow(
        `requestTimeoutMs must be 1–600,000 milliseconds; got ${requestTimeoutMs}`,
      );
  });
});
