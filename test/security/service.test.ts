import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { CONSOLE_CSP } from '../../packages/server/src/console/static-files.ts';
import { loadConfig, startLanyard, type Lanyard } from '../../packages/server/src/index.ts';
import { openStorage } from '../../packages/server/src/storage/open.ts';
import { POSTGRES_URL, createTestDatabase, type Backend, type TestDatabase } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import {
  DESKTOP_URL,
  authorize,
  exchangeCode,
  flexLogin,
  pkcePair,
  postForm,
  postJson,
  refreshTokens,
  setupAccount,
  validateToken,
} from '../support/flows.ts';

/**
 * The service around the protocols: response headers, rate limits, the admin API's door and the
 * console's CSRF defence, secrets at rest and in logs.
 */

let idp: DevIdp;
beforeAll(async () => {
  idp = await startDevIdp({ port: 0 });
});
afterAll(async () => {
  await idp?.close();
});

/** A plain HTTP request from a chosen loopback address (127.0.0.2 is another client to the server). */
function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('security headers', () => {
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(() => lanyard?.stop());

  const expectBaseline = (headers: Headers) => {
    expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
  };

  it('puts a strict CSP (no framing), X-Frame-Options, nosniff and Referrer-Policy on HTML error pages', async () => {
    const page = await authorize(
      lanyard,
      { ssoProfileSid: setup.connection.sid, redirectUrl: 'https://evil.example/', state: 's', codeChallenge: pkcePair().challenge },
      { accept: 'text/html' },
    );
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expectBaseline(page.headers);
    expect(page.headers.get('content-security-policy')).not.toMatch(/script-src/);
    expect(await page.text()).not.toMatch(/<script/i);
  });

  it('escapes what the request carries on HTML error pages (no markup injection)', async () => {
    const payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const page = await authorize(
      lanyard,
      { ssoProfileSid: setup.connection.sid, redirectUrl: `https://evil.example/${payload}`, state: payload, codeChallenge: pkcePair().challenge },
      { accept: 'text/html' },
    );
    const html = await page.text();
    expect(html).toContain('Trusted Login has not been enabled');
    expect(html).not.toMatch(/<script>alert|<img src=x/i);
    const unknown = await fetch(`${lanyard.url}/v1/Flex/Authorize?ssoProfileSid=${encodeURIComponent(payload)}`, {
      headers: { accept: 'text/html' },
    });
    expect(await unknown.text()).not.toMatch(/<script>alert|<img src=x/i);
  });

  it('puts the same headers on JSON answers, the SAML ACS and 404s, and no HSTS over plain http', async () => {
    for (const response of [
      await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`),
      await postForm(`${lanyard.url}/login/callback?connection=${setup.connection.sid}`, { SAMLResponse: 'x', RelayState: 'unknown' }),
      await fetch(`${lanyard.url}/nope`),
    ]) {
      expectBaseline(response.headers);
      expect(response.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('serves the console with its own CSP that also forbids framing', async () => {
    const response = await fetch(`${lanyard.url}/console/`);
    expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    // The console's policy replaces the default one: sent once, never both (a browser would
    // enforce both, and the default's default-src 'none' would block the console's script).
    const raw = await requestFrom('127.0.0.1', `${lanyard.url}/console/`);
    expect(raw.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it("sends each default header once beside the route's own, with a request id passed through and CORS headers once", async () => {
    const lookup = await requestFrom('127.0.0.1', `${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`, {
      headers: { origin: 'https://desktop.example', 'x-request-id': 'trace-123' },
    });
    expect(lookup.status).toBe(200);
    expect(lookup.headers['x-request-id']).toBe('trace-123');
    expect(lookup.headers['x-frame-options']).toBe('DENY');
    expect(lookup.headers['cache-control']).toBe('public, max-age=60');
    expect(lookup.headers['access-control-allow-origin']).toBe('*');
    // The same for every origin: nothing to vary on.
    expect(lookup.headers['vary']).toBeUndefined();
    expect(lookup.headers['content-type']).toBe('application/json');
    // Public for 60 s: an answer a shared cache kept from a request without an Origin must still
    // pass a browser's CORS check.
    const withoutOrigin = await requestFrom('127.0.0.1', `${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`);
    expect(withoutOrigin.headers['access-control-allow-origin']).toBe('*');
  });

  it('lets no shared cache keep an error: a refused lookup is not public for 60 s like a found one', async () => {
    // The lookup marks its answer public before it looks; an error (a bad SID here, a 503 while
    // storage is down) must not be served from a CDN to everyone for the next minute.
    const refused = await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=bogus`);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps tokens out of caches and Referer headers: no-store on grants, no-referrer on the legacy token redirect', async () => {
    const tokens = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    await lanyard.services.accounts.setMode(setup.account.sid, 'both');
    const started = await postJson(`${lanyard.url}/v1/Accounts/${setup.account.sid}/authenticate`, { products: ['flex'], resource: DESKTOP_URL });
    const form = await loginHeadless(idp, String(started.body.location), 'alan@example.com');
    const acs = await postForm(form.action, form.fields);
    expect(acs.headers.get('location')).toContain('Token=');
    expect(acs.headers.get('referrer-policy')).toBe('no-referrer');
    expect(acs.headers.get('cache-control')).toBe('no-store');
  });

  it('does not answer CORS for an origin that is not a Trusted URL, and never allows credentials', async () => {
    const evil = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const desktop = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'OPTIONS',
      headers: { origin: new URL(DESKTOP_URL).origin, 'access-control-request-method': 'POST' },
    });
    expect(desktop.headers.get('access-control-allow-origin')).toBe(new URL(DESKTOP_URL).origin);
    expect(desktop.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('sends HSTS when the public URL is https', async () => {
    const https = await startTestLanyard('sqlite', { publicUrl: 'https://sso.example.com' });
    try {
      // The public URL is not this machine: ask the app directly.
      for (const path of ['/healthz', '/v1/Flex/Authorize', '/nope']) {
        const response = await https.app.request(path);
        expect(response.headers.get('strict-transport-security')).toMatch(/max-age=(\d{8,}|3153\d{4})/);
        expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      }
    } finally {
      await https.stop();
    }
  });
});

describe('kept-alive connections', () => {
  it('keeps an idle connection open longer than clients and load balancers keep theirs (they close first: no reset)', async () => {
    const lanyard = await startTestLanyard('sqlite');
    try {
      // fetch keeps the connection alive; Node announces how long it will wait for the next request.
      const response = await fetch(`${lanyard.url}/healthz`);
      await response.arrayBuffer();
      expect(response.headers.get('keep-alive')).toBe('timeout=72');
    } finally {
      await lanyard.stop();
    }
  });
});

describe('rate limits', () => {
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let adminKey: string;
  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite', { rateLimitLoginPerMinute: 5, rateLimitTokenPerMinute: 5, rateLimitAdminPerMinute: 5 });
    setup = await setupAccount(lanyard, idp);
    adminKey = (await lanyard.services.adminKeys.create('rate limit test')).secret;
  });
  afterAll(() => lanyard?.stop());

  const expect429 = (response: { status: number; headers: Record<string, string | string[] | undefined>; body: string }) => {
    expect(response.status).toBe(429);
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(response.body)).toMatchObject({
      code: 20429,
      status: 429,
      message: expect.stringMatching(/^Too many requests; retry after \d+ seconds\.$/),
    });
  };

  it('limits sign-in starts per client address, leaving other clients and other route groups alone', async () => {
    const url = `${lanyard.url}/v1/Flex/Authorize?ssoProfileSid=${setup.connection.sid}&redirectUrl=${encodeURIComponent(DESKTOP_URL)}&state=s&codeChallenge=${pkcePair().challenge}`;
    for (let i = 0; i < 5; i++) expect((await requestFrom('127.0.0.1', url)).status).toBe(302);
    expect429(await requestFrom('127.0.0.1', url));
    // The ACS is in the same group: the burst covers it too.
    expect429(
      await requestFrom('127.0.0.1', `${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'SAMLResponse=x',
      }),
    );
    expect((await requestFrom('127.0.0.2', url)).status).toBe(302);
    expect((await requestFrom('127.0.0.1', `${lanyard.url}/healthz`)).status).toBe(200);
  });

  it('limits the token endpoints (Flex, standard, legacy refresh share one budget)', async () => {
    const body = JSON.stringify({
      grant_type: 'RefreshToken',
      refresh_token: 'guess-' + randomBytes(8).toString('hex'),
      sso_profile_sid: setup.connection.sid,
    });
    const post = (path: string, from = '127.0.0.3') =>
      requestFrom(from, `${lanyard.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    for (let i = 0; i < 3; i++) expect((await post('/v1/Flex/OAuth/Tokens')).status).toBe(400);
    expect((await post('/oauth2/token')).status).toBe(400);
    expect((await post(`/v1/Accounts/${setup.account.sid}/Tokens/refresh`)).status).toBe(400);
    expect429(await post('/v1/Flex/OAuth/Tokens'));
    expect429(await post(`/v1/Accounts/${setup.account.sid}/Tokens/validate`));
    expect((await post('/v1/Flex/OAuth/Tokens', '127.0.0.4')).status).toBe(400);
  });

  it('limits the admin API, wrong keys included (key guessing)', async () => {
    const get = (key: string, from = '127.0.0.5') =>
      requestFrom(from, `${lanyard.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${key}` } });
    expect((await get(adminKey)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await get(`lk_SK${'0'.repeat(32)}_${randomBytes(32).toString('base64url')}`)).status).toBe(401);
    expect429(await get(adminKey));
    expect((await get(adminKey, '127.0.0.6')).status).toBe(200);
  });

  it('counts a concurrent flood from one address exactly on a node (in-memory buckets: no lost updates)', async () => {
    const url = `${lanyard.url}/v1/Flex/Authorize?ssoProfileSid=${setup.connection.sid}&redirectUrl=${encodeURIComponent(DESKTOP_URL)}&state=s&codeChallenge=${pkcePair().challenge}`;
    const statuses = await Promise.all(Array.from({ length: 30 }, () => requestFrom('127.0.0.8', url).then((r) => r.status)));
    expect(statuses.filter((s) => s === 302)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
  });

  it('ignores X-Forwarded-For unless LANYARD_TRUST_PROXY is set (a client cannot pick its own address)', async () => {
    const url = `${lanyard.url}/v1/Flex/Authorize?ssoProfileSid=${setup.connection.sid}`;
    for (let i = 0; i < 5; i++) await requestFrom('127.0.0.7', url, { headers: { 'x-forwarded-for': `203.0.113.${i}` } });
    expect429(await requestFrom('127.0.0.7', url, { headers: { 'x-forwarded-for': '203.0.113.99' } }));
  });
});

describe('keyed budgets: per session, per user, per account, whatever the address', () => {
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite', {
      rateLimitRefreshFamilyPerMinute: 3,
      rateLimitUserSignInsPerMinute: 2,
      rateLimitAccountSignInsPerMinute: 6,
    });
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(() => lanyard?.stop());

  it('refuses a session refreshing too often with 429, leaving the presented token unspent and other sessions alone', async () => {
    const first = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    let refreshToken = String(first.body.refresh_token);
    for (let i = 0; i < 3; i++) {
      const rotated = await refreshTokens(lanyard, setup.connection.sid, refreshToken);
      expect(rotated.status).toBe(200);
      refreshToken = String(rotated.body.refresh_token);
    }
    const refused = await refreshTokens(lanyard, setup.connection.sid, refreshToken);
    expect(refused.status).toBe(429);
    expect(refused.body.message).toMatch(/refresh token was presented too many times.*LANYARD_RATE_LIMIT_REFRESH_FAMILY/);
    // The refusal rolled back: the same token is neither spent nor seen as reused.
    const record = await lanyard.services.storage.find('refresh_token', createHash('sha256').update(refreshToken).digest('base64url'));
    expect(record?.consumedAt).toBeNull();
    const other = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'grace@example.com'));
    expect((await refreshTokens(lanyard, setup.connection.sid, String(other.body.refresh_token))).status).toBe(200);
  });

  it('budgets refreshes at the session cap too, where the refresh token is not rotated', async () => {
    const capped = await startTestLanyard('sqlite', { rateLimitRefreshFamilyPerMinute: 3, sessionMaxLifetimeSeconds: 600 });
    try {
      const account = await setupAccount(capped, idp);
      const first = await exchangeCode(capped, account.connection.sid, await flexLogin(capped, idp, account.connection.sid, 'alan@example.com'));
      // A 10-minute shift under a 1-hour access token: every grant already ends at the cap.
      expect(first.body.access_token_expires_at).toBe(first.body.refresh_token_expires_at);
      const refreshToken = String(first.body.refresh_token);
      for (let i = 0; i < 3; i++) {
        const renewed = await refreshTokens(capped, account.connection.sid, refreshToken);
        expect(renewed.status).toBe(200);
        expect(renewed.body.refresh_token).toBe(refreshToken);
      }
      const refused = await refreshTokens(capped, account.connection.sid, refreshToken);
      expect(refused.status).toBe(429);
      expect(refused.body.message).toMatch(/LANYARD_RATE_LIMIT_REFRESH_FAMILY/);
    } finally {
      await capped.stop();
    }
  });

  it('refuses a third sign-in of one user within the minute (the desktop hears error_code 20429) and caps sign-ins started per account', async () => {
    // alan signed in once above; one more is allowed.
    expect((await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com')).code).not.toBe('');
    const refused = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    expect(refused.code).toBe('');
    expect(refused.callback.searchParams.get('error_code')).toBe('20429');
    expect(refused.callback.searchParams.get('error_description')).toMatch(/LANYARD_RATE_LIMIT_USER_SIGN_INS/);
    // Four starts so far on this account (budget 6 a minute, refilling one per 10 s): eight more
    // from another address overrun it whoever sends them.
    const url = `${lanyard.url}/v1/Flex/Authorize?ssoProfileSid=${setup.connection.sid}&redirectUrl=${encodeURIComponent(DESKTOP_URL)}&state=s&codeChallenge=${pkcePair().challenge}`;
    const flood = await Promise.all(Array.from({ length: 8 }, () => requestFrom('127.0.0.9', url)));
    const refusals = flood.filter((r) => r.status === 429);
    expect(refusals.length).toBeGreaterThanOrEqual(4);
    expect(flood.filter((r) => r.status === 302).length).toBeLessThanOrEqual(4);
    expect(JSON.parse(refusals[0]!.body).message).toMatch(/LANYARD_RATE_LIMIT_ACCOUNT_SIGN_INS/);
  });
});

describe('the admin API door', () => {
  let lanyard: TestLanyard;
  let key: string;
  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    key = (await lanyard.services.adminKeys.create('door test')).secret;
  });
  afterAll(() => lanyard?.stop());

  const call = (headers: Record<string, string> = {}, path = '/admin/v1/accounts') => fetch(`${lanyard.url}${path}`, { headers });

  it('answers the right key (the control)', async () => {
    expect((await call({ authorization: `Bearer ${key}` })).status).toBe(200);
  });

  it.each<[string, (key: string) => Record<string, string>]>([
    ['no credentials', () => ({})],
    ['an empty bearer', () => ({ authorization: 'Bearer ' })],
    ['a malformed key', () => ({ authorization: 'Bearer not-a-key' })],
    ['a well-formed unknown key', () => ({ authorization: `Bearer lk_SK${'a'.repeat(32)}_${'A'.repeat(43)}` })],
    ['the right SID with a wrong secret', (k) => ({ authorization: `Bearer ${k.slice(0, -4)}${k.endsWith('AAAA') ? 'BBBB' : 'AAAA'}` })],
    ['the key as Basic credentials', (k) => ({ authorization: `Basic ${Buffer.from(`admin:${k}`).toString('base64')}` })],
    ['the key in another header', (k) => ({ 'x-api-key': k })],
  ])('refuses %s with 401 and a challenge', async (_name, headers) => {
    const response = await call(headers(key));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="lanyard-admin"/);
    expect(await response.json()).toMatchObject({ code: 20003, status: 401 });
  });

  it('refuses the key in the query string (it would end up in logs and Referer headers)', async () => {
    expect((await call({}, `/admin/v1/accounts?access_token=${encodeURIComponent(key)}`)).status).toBe(401);
  });

  it('refuses a revoked key at once', async () => {
    const revoked = await lanyard.services.adminKeys.create('to revoke');
    expect((await call({ authorization: `Bearer ${revoked.secret}` })).status).toBe(200);
    await lanyard.services.adminKeys.revoke(revoked.key.sid);
    expect((await call({ authorization: `Bearer ${revoked.secret}` })).status).toBe(401);
  });

  it('guards every admin route, not just some (the OpenAPI document lists them; only it is public)', async () => {
    const document = (await (await call({}, '/admin/v1/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
        .map((method) => [method, path] as const),
    );
    expect(routes.length).toBeGreaterThan(15);
    for (const [method, path] of routes) {
      const concrete = path.replace(/\{[^}]+\}/g, (name) =>
        /account/i.test(name) ? `AC${'0'.repeat(32)}` : /user/i.test(name) ? `FU${'0'.repeat(32)}` : `JQ${'0'.repeat(32)}`,
      );
      const response = await fetch(`${lanyard.url}/admin/v1${concrete.replace(/^\/admin\/v1/, '')}`, {
        method: method.toUpperCase(),
        headers: { 'content-type': 'application/json' },
        body: method === 'get' ? undefined : '{}',
      });
      if (concrete.endsWith('/openapi.json')) continue;
      expect(response.status, `${method.toUpperCase()} ${path}`).toBe(401);
    }
  });
});

describe('console CSRF', () => {
  let lanyard: TestLanyard;
  let key: string;
  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    key = (await lanyard.services.adminKeys.create('console test')).secret;
  });
  afterAll(() => lanyard?.stop());

  async function signIn(): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const response = await fetch(`${lanyard.url}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ admin_key: key }),
    });
    expect(response.status).toBe(201);
    const setCookie = response.headers.get('set-cookie')!;
    return { cookie: setCookie.split(';')[0]!, csrf: String(((await response.json()) as { csrf_token: string }).csrf_token), setCookie };
  }

  it('sets an HttpOnly, SameSite=Strict session cookie that carries no admin key', async () => {
    const { setCookie, cookie } = await signIn();
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(key);
  });

  it("refuses a cookie-authenticated admin call without the CSRF token, with another session's, or a wrong one", async () => {
    const mine = await signIn();
    const theirs = await signIn();
    const call = (headers: Record<string, string>) =>
      fetch(`${lanyard.url}/admin/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: mine.cookie, ...headers },
        body: JSON.stringify({ friendly_name: 'CSRF' }),
      });
    for (const headers of [
      {} as Record<string, string>,
      { 'X-CSRF-Token': theirs.csrf },
      { 'X-CSRF-Token': mine.csrf.slice(0, -1) + (mine.csrf.endsWith('A') ? 'B' : 'A') },
      { 'X-CSRF-Token': '' },
    ]) {
      const response = await call(headers);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: 20403, message: expect.stringContaining('X-CSRF-Token') });
    }
    expect((await lanyard.services.accounts.listAccounts()).some((a) => a.friendlyName === 'CSRF')).toBe(false);
    expect((await call({ 'X-CSRF-Token': mine.csrf })).status).toBe(201);
  });

  it('refuses a console sign-in sent as a cross-site form (not JSON)', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const response = await fetch(`${lanyard.url}/console/session`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: `admin_key=${encodeURIComponent(key)}`,
      });
      expect(response.status, type).toBe(400);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });

  it('does not sign out without the CSRF token (no forced sign-out)', async () => {
    const session = await signIn();
    expect((await fetch(`${lanyard.url}/console/session`, { method: 'DELETE', headers: { cookie: session.cookie } })).status).toBe(403);
    expect((await fetch(`${lanyard.url}/console/session`, { headers: { cookie: session.cookie } })).status).toBe(200);
  });

  it('marks the cookie Secure when the public URL is https', async () => {
    const https = await startTestLanyard('sqlite', { publicUrl: 'https://sso.example.com' });
    try {
      const secret = (await https.services.adminKeys.create('https')).secret;
      const response = await https.app.request('/console/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ admin_key: secret }),
      });
      expect(response.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
    } finally {
      await https.stop();
    }
  });
});

/** Every place a database keeps bytes: the SQLite file and its WAL, or the PostgreSQL rows as text. */
async function rawDatabase(db: TestDatabase, backend: Backend): Promise<{ text: string; signingKeyPayloads: unknown[] }> {
  if (backend === 'sqlite') {
    const file = db.url.replace(/^sqlite:/, '');
    const text = [file, `${file}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    const sqlite = new Database(file, { readonly: true });
    try {
      const rows = sqlite.prepare(`SELECT payload FROM records WHERE kind = 'signing_key'`).all() as Array<{ payload: string }>;
      return { text, signingKeyPayloads: rows.map((r) => JSON.parse(r.payload) as unknown) };
    } finally {
      sqlite.close();
    }
  }
  const schema = new URL(db.url).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const all = await client.query<{ row: string }>(
      `SELECT concat_ws(' ', kind, id, account_sid, lookup, family, payload::text) AS row FROM ${schema}.records`,
    );
    const keys = await client.query<{ payload: unknown }>(`SELECT payload FROM ${schema}.records WHERE kind = 'signing_key'`);
    return { text: all.rows.map((r) => r.row).join('\n'), signingKeyPayloads: keys.rows.map((r) => r.payload) };
  } finally {
    await client.end();
  }
}

/** Every object inside `value` that has a JWK private member. */
function privateJwkMembers(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(privateJwkMembers);
  if (value && typeof value === 'object') {
    const own = ['d', 'p', 'q', 'dp', 'dq', 'qi'].filter((m) => m in value && 'kty' in value);
    return [...own, ...Object.values(value).flatMap(privateJwkMembers)];
  }
  return [];
}

describe.each(['sqlite', 'postgres'] as Backend[])('secrets at rest on %s', (backend) => {
  let lanyard: TestLanyard;
  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
  });
  afterAll(() => lanyard?.stop());

  it('keeps the token signing key sealed: no private JWK member, and its value nowhere in the raw database', async () => {
    const raw = await rawDatabase(lanyard.db, backend);
    expect(raw.signingKeyPayloads.length).toBeGreaterThan(0);
    expect(privateJwkMembers(raw.signingKeyPayloads)).toEqual([]);
    for (const payload of raw.signingKeyPayloads as Array<{ sealedPrivateJwk: string }>) {
      expect(payload.sealedPrivateJwk).toMatch(/^v1\./);
      // The private scalar the sealed value hides must not be on disk in clear anywhere.
      const { d } = JSON.parse(lanyard.services.secrets.open(payload.sealedPrivateJwk)) as { d: string };
      // 43 characters for an ES256 scalar, several hundred for an RS256 private exponent.
      expect(d).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(raw.text).not.toContain(d);
    }
  });

  it('publishes only public keys in the JWKS', async () => {
    const jwks = (await (await fetch(`${lanyard.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(privateJwkMembers(jwks)).toEqual([]);
  });

  it('keeps an upstream client secret, account auth tokens, admin keys, codes and refresh tokens out of the database', async () => {
    const setup = await setupAccount(lanyard, idp);
    const clientSecret = 'client-secret-' + randomBytes(16).toString('hex');
    const { account: other } = await lanyard.services.accounts.createAccount('OIDC upstream');
    await lanyard.services.accounts.setOidc(
      other.sid,
      { issuer: 'https://idp.example.com', clientId: 'lanyard', clientSecret },
      async () => undefined,
    );
    const admin = await lanyard.services.adminKeys.create('at rest');
    const registered = await lanyard.services.clients.register({ connectionSid: setup.connection.sid, redirectUris: ['https://rp.example.com/cb'] });
    const rotated = await lanyard.services.clients.rotateSecret(registered.client.clientId);
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    const tokens = await exchangeCode(lanyard, setup.connection.sid, login);
    const raw = await rawDatabase(lanyard.db, backend);
    for (const [name, secret] of Object.entries({
      clientSecret,
      authToken: setup.authToken,
      adminKey: admin.secret,
      oidcClientSecret: registered.secret!,
      rotatedOidcClientSecret: rotated.secret,
      code: login.code,
      refreshToken: String(tokens.body.refresh_token),
    })) {
      expect(secret.length, name).toBeGreaterThan(20);
      expect(raw.text.includes(secret), `${name} is stored in clear`).toBe(false);
    }
    expect(raw.text).toMatch(/"sealedClientSecret": ?"v1\./);
  });
});

describe('the secret key', () => {
  it('refuses to start on a database sealed with another LANYARD_SECRET_KEY, saying so', async () => {
    const db = await createTestDatabase('sqlite');
    const silent = { logger: jsonLogger('silent') };
    const config = (key: Buffer) => loadConfig({ LANYARD_PORT: '0', LANYARD_DATABASE_URL: db.url }, { secretKey: key });
    try {
      const first = await startLanyard(config(randomBytes(32)), silent);
      await first.close();
      await expect(startLanyard(config(randomBytes(32)), silent)).rejects.toThrow(
        /A secret stored in sqlite:\/.* cannot be decrypted with LANYARD_SECRET_KEY: the database was set up with another key\. Start with the key it was set up with/,
      );
    } finally {
      await db.drop();
    }
  });
});

describe('the development key', () => {
  it('is made for a SQLite database with nothing sealed, refused for one set up with LANYARD_SECRET_KEY, named when it opens nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanyard-dev-key-'));
    const silent = { logger: jsonLogger('silent') };
    const env = { LANYARD_PORT: '0', LANYARD_DATABASE_URL: `sqlite:${join(dir, 'with-key.db')}` };
    try {
      const keyed = await startLanyard(loadConfig(env, { secretKey: randomBytes(32) }), silent);
      await keyed.close();
      await expect(startLanyard(loadConfig(env), silent)).rejects.toThrow(
        /LANYARD_SECRET_KEY is not set, and the database .*with-key\.db holds signing keys sealed with a key that is not beside it \(no .*secret\.key\)/,
      );
      expect(existsSync(join(dir, 'secret.key'))).toBe(false);
      // The control: a database that holds nothing sealed yet (its tables made by a start that
      // stopped before its first keys) gets the development key, and the next start reuses it.
      const unsealed = { ...env, LANYARD_DATABASE_URL: `sqlite:${join(dir, 'unsealed.db')}` };
      await (await openStorage(unsealed.LANYARD_DATABASE_URL)).close();
      await (await startLanyard(loadConfig(unsealed), silent)).close();
      expect(existsSync(join(dir, 'secret.key'))).toBe(true);
      await (await startLanyard(loadConfig(unsealed), silent)).close();
      // That file is the folder's: the database set up with LANYARD_SECRET_KEY beside it is now
      // refused by the decryption, naming the file and where it may have come from.
      await expect(startLanyard(loadConfig(env), silent)).rejects.toThrow(
        /A secret stored in sqlite:\/.*with-key\.db cannot be decrypted with the development key in .*secret\.key \(LANYARD_SECRET_KEY is not set\): the database was set up with another key\. Set LANYARD_SECRET_KEY to the key the server runs with on it\..*every SQLite file in this folder shares one/,
      );
      // An in-memory database gets a key of its own and writes none.
      const lines: string[] = [];
      await (
        await startLanyard(loadConfig({ LANYARD_PORT: '0', LANYARD_DATABASE_URL: 'sqlite::memory:' }), {
          logger: jsonLogger('info', (line) => lines.push(line)),
        })
      ).close();
      expect(lines.join('\n')).not.toMatch(/generated a development key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('no secret in logs', () => {
  it('logs a whole sign-in, token, refresh, legacy and admin session without a token, code, key or SAML message in it', async () => {
    const db = await createTestDatabase('sqlite');
    const lines: string[] = [];
    const secretKey = randomBytes(32);
    const lanyard: Lanyard = await startLanyard(loadConfig({ LANYARD_PORT: '0', LANYARD_DATABASE_URL: db.url }, { secretKey }), {
      logger: jsonLogger('info', (line) => lines.push(line)),
    });
    const test = { ...lanyard, db, backend: 'sqlite' as const, stop: async () => undefined };
    try {
      const setup = await setupAccount(test, idp);
      await lanyard.services.accounts.setMode(setup.account.sid, 'both');
      const secrets: Record<string, string> = { authToken: setup.authToken, secretKey: secretKey.toString('base64') };

      // Enhanced: authorize → IdP → ACS → code → tokens → refresh → validate (and a refused one).
      const { verifier, challenge } = pkcePair();
      const start = await authorize(test, {
        ssoProfileSid: setup.connection.sid,
        redirectUrl: DESKTOP_URL,
        state: 'state-' + randomBytes(8).toString('hex'),
        nonce: 'n',
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      });
      const form = await loginHeadless(idp, start.headers.get('location')!, 'ada@example.com');
      secrets.samlResponse = form.fields.SAMLResponse!;
      secrets.relayState = form.fields.RelayState!;
      const acs = await postForm(form.action, form.fields);
      const code = new URL(acs.headers.get('location')!).searchParams.get('code')!;
      secrets.code = code;
      secrets.verifier = verifier;
      const tokens = await exchangeCode(test, setup.connection.sid, { code, verifier, nonce: 'n', state: '', callback: new URL(DESKTOP_URL) });
      secrets.accessToken = String(tokens.body.access_token);
      secrets.refreshToken = String(tokens.body.refresh_token);
      const refreshed = await refreshTokens(test, setup.connection.sid, secrets.refreshToken);
      secrets.refreshed = String(refreshed.body.refresh_token);
      await validateToken(test, setup.account.sid, setup.authToken, secrets.accessToken);
      await validateToken(test, setup.account.sid, setup.authToken, secrets.accessToken.slice(0, -6) + 'AAAAAA');
      await exchangeCode(test, setup.connection.sid, { code, verifier, nonce: 'n', state: '', callback: new URL(DESKTOP_URL) }); // replay: a failure path

      // Legacy: authenticate → IdP → ACS with the token on the URL → refresh.
      const legacy = await postJson(`${lanyard.url}/v1/Accounts/${setup.account.sid}/authenticate`, { products: ['flex'], resource: DESKTOP_URL });
      const legacyForm = await loginHeadless(idp, String(legacy.body.location), 'alan@example.com');
      secrets.legacySamlResponse = legacyForm.fields.SAMLResponse!;
      const legacyAcs = await postForm(legacyForm.action, legacyForm.fields);
      secrets.legacyToken = new URL(legacyAcs.headers.get('location')!).searchParams.get('Token')!;
      const legacyRefresh = await postJson(`${lanyard.url}/v1/Accounts/${setup.account.sid}/Tokens/refresh`, { token: secrets.legacyToken });
      secrets.legacyRefreshed = String(legacyRefresh.body.token);
      // A tampered SAML response: a failure path that handles the message.
      const tampered = await loginHeadless(
        idp,
        (await authorize(test, { ssoProfileSid: setup.connection.sid, redirectUrl: DESKTOP_URL, state: 's', codeChallenge: challenge })).headers.get(
          'location',
        )!,
        'alan@example.com',
      );
      secrets.tamperedSamlResponse = tampered.fields.SAMLResponse!;
      await postForm(tampered.action, {
        ...tampered.fields,
        SAMLResponse: Buffer.from(Buffer.from(tampered.fields.SAMLResponse!, 'base64').toString().replace('alan@', 'ada@')).toString('base64'),
      });

      // Admin: a good key, a wrong one, and the console sign-in.
      const admin = await lanyard.services.adminKeys.create('logs');
      // The key's SID (`lk_SK…_`) names it in logs on purpose; the random part after it is the secret.
      secrets.adminKey = admin.secret.slice(`lk_${admin.key.sid}_`.length);
      await fetch(`${lanyard.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${admin.secret}` } });
      await fetch(`${lanyard.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${admin.secret.slice(0, -3)}xyz` } });
      const consoleSession = await fetch(`${lanyard.url}/console/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ admin_key: admin.secret }),
      });
      secrets.consoleCookie = consoleSession.headers.get('set-cookie')!.split(';')[0]!.split('=')[1]!;
      secrets.csrf = String(((await consoleSession.json()) as { csrf_token: string }).csrf_token);

      expect(lines.length).toBeGreaterThan(15);
      expect(lines.some((line) => line.includes('"route":"/login/callback"'))).toBe(true);
      const log = lines.join('\n');
      for (const [name, secret] of Object.entries(secrets)) {
        expect(secret.length, name).toBeGreaterThanOrEqual(20);
        // Whole values and any 16-character piece of them (a truncated token is still a leak).
        const pieces = [secret, ...Array.from({ length: Math.floor(secret.length / 16) }, (_, i) => secret.slice(i * 16, i * 16 + 16))];
        for (const piece of pieces) expect(log.includes(piece), `${name} appears in the logs`).toBe(false);
      }
    } finally {
      await lanyard.close();
      await db.drop();
    }
  });
});
