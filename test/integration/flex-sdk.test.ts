import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { installFlexHostRouting } from '../../packages/sdk/src/flex-hosts-node.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { flexLogin, setupAccount } from '../support/flows.ts';

/**
 * The real `@twilio/flex-sdk` 3.0.0 auth functions in Node, their requests for Twilio's fixed
 * hosts routed to Lanyard by the SDK's fetch hook (docs/flex-ui.md). flex-sdk reads its
 * environment settings from `window`; in Node an empty object stands for it.
 */
(globalThis as { window?: object }).window ??= {};
const flexSdk = createRequire(import.meta.url)('@twilio/flex-sdk') as {
  getAuthenticationConfig(options: Record<string, string>): Promise<{ configList: Array<Record<string, unknown>> }>;
  exchangeToken(options: Record<string, unknown>): Promise<Record<string, unknown>>;
  refreshToken(options: Record<string, unknown>): Promise<Record<string, unknown>>;
  validateToken(accountSid: string, token: string): Promise<Record<string, unknown>>;
};

describe.each(BACKENDS)('@twilio/flex-sdk 3.0.0 against Lanyard on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let restore: () => void;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    // No grace window: a replayed refresh token is reuse at once.
    lanyard = await startTestLanyard(backend, { refreshGraceSeconds: 0 });
    setup = await setupAccount(lanyard, idp);
    restore = installFlexHostRouting(lanyard.url);
  });
  afterAll(async () => {
    restore?.();
    vi.useRealTimers();
    await lanyard?.stop();
    await idp?.close();
  });

  it('getAuthenticationConfig finds the account’s connection, and nothing (not an error) by RuntimeDomain alone', async () => {
    const found = await flexSdk.getAuthenticationConfig({ accountSid: setup.account.sid });
    expect(found.configList).toEqual([
      expect.objectContaining({
        accountSid: setup.account.sid,
        instanceSid: setup.account.instanceSid,
        ssoProfileSid: setup.connection.sid,
        clientId: setup.connection.clientId,
        appType: 'SinglePageApp',
      }),
    ]);
    expect(await flexSdk.getAuthenticationConfig({ runtimeDomain: 'desk-top-1234' })).toEqual({ configList: [] });
  });

  it('exchangeToken, refreshToken and validateToken: a whole session through flex-sdk', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const tokens = await flexSdk.exchangeToken({
      ssoProfileSid: setup.connection.sid,
      appType: 'SinglePageApp',
      code: login.code,
      codeVerifier: login.verifier,
      nonce: login.nonce,
    });
    expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.stringMatching(/^lrt_/) });
    // flex-sdk camel-cases root keys only.
    expect(tokens.tokenInfo).toMatchObject({ account_sid: setup.account.sid, identity: 'ada_40example_2Ecom' });

    const refreshed = await flexSdk.refreshToken({
      refreshToken: tokens.refreshToken,
      ssoProfileSid: setup.connection.sid,
      appType: 'SinglePageApp',
    });
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);

    const info = await flexSdk.validateToken(setup.account.sid, String(refreshed.accessToken));
    expect(info).toMatchObject({
      valid: true,
      identity: 'ada_40example_2Ecom',
      accountSid: setup.account.sid,
      flexUserSid: expect.stringMatching(/^FU/),
    });
    expect(info.roles).toEqual(expect.arrayContaining(['agent']));

    // What the real client clears its session on: 20003 for an invalid token, 20104 for an expired one.
    await expect(flexSdk.validateToken(setup.account.sid, 'not-a-token')).rejects.toThrow(/20003/);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(String((refreshed.tokenInfo as { expiration: string }).expiration)) + 2_000 });
    await expect(flexSdk.validateToken(setup.account.sid, String(refreshed.accessToken))).rejects.toThrow(/20104/);
    vi.useRealTimers();
    // A spent refresh token, replayed: the agent-facing code 45002, with Lanyard's message.
    await expect(
      flexSdk.refreshToken({ refreshToken: tokens.refreshToken, ssoProfileSid: setup.connection.sid, appType: 'SinglePageApp' }),
    ).rejects.toThrow(/45002|already used/);
  });
});
