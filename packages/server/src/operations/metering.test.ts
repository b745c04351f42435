import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenCore, type TokenCore } from '../../../../test/support/token-core.ts';
import { meter } from './metering.ts';
import { Metrics } from './metrics.ts';

describe('meter: metrics subscribed to the token core and the audit log', () => {
  let core: TokenCore;
  const metrics = new Metrics();
  beforeAll(async () => {
    core = await createTokenCore('sqlite');
    meter(metrics, { tokens: core.tokens, audit: core.audit });
  });
  afterAll(() => core?.close());

  const login = { accountSid: null, connectionSid: null, userSid: null, uniqueId: null, reason: null };

  it('counts sign-in outcomes by surface and failures by code, from what the audit log records', async () => {
    await core.audit.record({ ...login, type: 'login.succeeded', surface: 'oidc', code: null });
    await core.audit.record({ ...login, type: 'login.failed', surface: 'flex', code: 45050 });
    await core.audit.record({ ...login, type: 'admin.change', surface: null, code: null });
    const text = await metrics.render();
    expect(text).toContain('lanyard_logins_total{surface="oidc",outcome="succeeded"} 1');
    expect(text).toContain('lanyard_logins_total{surface="flex",outcome="failed"} 1');
    expect(text).toContain('lanyard_login_failures_total{reason="45050"} 1');
    expect(text).not.toMatch(/lanyard_logins_total\{surface="unknown"/);
  });

  it('counts grants by type and outcome, from what the token core announces', async () => {
    await core.tokens.exchangeCode({ code: 'never-issued', codeVerifier: 'v'.repeat(43), surface: 'flex' }).catch(() => undefined);
    await core.tokens.refresh({ surface: 'flex', refreshToken: 'lrt_never-issued' }).catch(() => undefined);
    const text = await metrics.render();
    expect(text).toContain('lanyard_token_grants_total{grant="authorization_code",outcome="45200"} 1');
    expect(text).toContain('lanyard_token_grants_total{grant="refresh_token",outcome="45200"} 1');
  });
});
