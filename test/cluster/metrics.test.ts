import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { exchangeCode, flexLogin, refreshTokens, setupAccount } from '../support/flows.ts';

const USERS = [
  { id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['agent'] },
  { id: 'norole@example.com', full_name: 'No Role', email: 'norole@example.com', roles: [] },
];
const TOKEN = 'metrics-token-0123456789';

describe('GET /metrics', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  const scrape = async () => (await fetch(`${lanyard.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard('sqlite', { metricsToken: TOKEN });
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it('requires the bearer token when LANYARD_METRICS_TOKEN is set', async () => {
    const anonymous = await fetch(`${lanyard.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetch(`${lanyard.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-wrong-00000' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${lanyard.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('counts sign-ins by outcome, failures by code, grants by outcome, and request latency by route', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const tokens = await exchangeCode(lanyard, setup.connection.sid, login);
    expect(tokens.status).toBe(200);
    expect((await refreshTokens(lanyard, setup.connection.sid, tokens.body.refresh_token as string)).status).toBe(200);
    expect((await exchangeCode(lanyard, setup.connection.sid, login)).status).toBe(400); // replayed code
    const failed = await flexLogin(lanyard, idp, setup.connection.sid, 'norole@example.com');
    expect(failed.callback.searchParams.get('error_code')).toBe('45050');

    const text = await scrape();
    expect(text).toContain('lanyard_logins_total{surface="flex",outcome="succeeded"} 1');
    expect(text).toContain('lanyard_logins_total{surface="flex",outcome="failed"} 1');
    expect(text).toContain('lanyard_login_failures_total{reason="45050"} 1');
    expect(text).toContain('lanyard_token_grants_total{grant="authorization_code",outcome="issued"} 1');
    expect(text).toContain('lanyard_token_grants_total{grant="authorization_code",outcome="45200"} 1');
    expect(text).toContain('lanyard_token_grants_total{grant="refresh_token",outcome="issued"} 1');
    expect(text).toMatch(/^lanyard_http_request_duration_seconds_count\{route="\/v1\/Flex\/OAuth\/Tokens",method="POST",status="2xx"\} 2$/m);
    expect(text).toMatch(/^lanyard_http_request_duration_seconds_count\{route="\/v1\/Flex\/OAuth\/Tokens",method="POST",status="4xx"\} 1$/m);
    expect(text).toMatch(/^lanyard_http_request_duration_seconds_count\{route="\/login\/callback",method="POST",status="3xx"\} 2$/m);
    await fetch(`${lanyard.url}/no/such/path?code=secret`);
    expect(await scrape()).toMatch(/route="unmatched",method="GET",status="4xx"/);
    expect(await scrape()).not.toContain('secret');
  });
});
