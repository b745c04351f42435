import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_USERS, loginHeadless, startDevIdp, type DevIdp } from '../../../demo/src/dev-idp/index.ts';
import { BACKENDS } from '../../../../test/support/backends.ts';
import { createTokenCore, type TokenCore } from '../../../../test/support/token-core.ts';
import type { LanyardConfig } from '../config.ts';
import { LoginService, type AuthorizeInput } from './login-service.ts';
import { SpKeys } from '../connections/sp-keys.ts';

const DESKTOP = 'https://desktop.example.test/agent/';
const NO_ROLE = { id: 'norole@example.com', full_name: 'No Role', email: 'norole@example.com', roles: [] };

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe.each(BACKENDS)('LoginService (the broker) on %s, with a samlify IdP', (backend) => {
  let idp: DevIdp;
  const cores: TokenCore[] = [];
  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: [...DEFAULT_USERS, NO_ROLE] });
  });
  afterAll(() => idp?.close());
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cores.splice(0)) await c.close();
  });

  /** An account whose connection points at the IdP, with the desktop trusted. */
  async function broker(overrides: Partial<LanyardConfig> = {}) {
    const core = await createTokenCore(backend, overrides);
    cores.push(core);
    await core.accounts.setSaml(core.account.sid, { metadataXml: idp.metadataXml });
    await core.accounts.addTrustedUrl(core.account.sid, DESKTOP);
    await core.accounts.setDefaultRedirectUrl(core.account.sid, DESKTOP);
    const login = new LoginService(
      core.storage,
      core.config,
      core.accounts,
      core.users,
      core.tokens,
      core.audit,
      core.secrets,
      new SpKeys(core.storage, core.secrets),
    );
    const { verifier, challenge } = pkce();
    const input: AuthorizeInput = {
      surface: 'flex',
      connectionSid: core.connection.sid,
      redirectUrl: DESKTOP,
      state: 'state-' + randomBytes(6).toString('hex'),
      nonce: 'nonce-1',
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    };
    /** begin → the IdP's page → sign in as `userId`: the fields the browser would POST to the ACS. */
    const signInAtIdp = async (userId = 'ada@example.com', changes: Partial<AuthorizeInput> = {}) => {
      const idpUrl = await login.begin({ ...input, ...changes });
      expect(idpUrl.startsWith(idp.ssoUrl)).toBe(true);
      const form = await loginHeadless(idp, idpUrl, userId);
      return { SAMLResponse: form.fields.SAMLResponse!, RelayState: form.fields.RelayState! };
    };
    const pending = async () => (await core.storage.list('login_request', { accountSid: core.account.sid })).length;
    return { core, login, input, verifier, signInAtIdp, pending };
  }

  it('turns the IdP answer into a one-time code bound to the PKCE challenge, and audits the sign-in', async () => {
    const { core, login, input, verifier, signInAtIdp } = await broker();
    const answer = await signInAtIdp();
    const outcome = await login.complete({
      connectionSid: core.connection.sid,
      signInId: answer.RelayState,
      message: { samlResponse: answer.SAMLResponse },
    });
    const back = new URL(outcome.redirectTo);
    expect(back.origin + back.pathname).toBe(DESKTOP);
    expect(back.searchParams.get('state')).toBe(input.state);
    expect(back.searchParams.has('iss')).toBe(false); // RFC 9207 iss only on the standard surface
    expect(outcome.user).toMatchObject({ uniqueId: 'ada@example.com', fullName: 'Ada Lovelace' });
    const issued = await core.tokens.exchangeCode({
      code: back.searchParams.get('code')!,
      codeVerifier: verifier,
      surface: 'flex',
      nonce: 'nonce-1',
    });
    expect(issued.user.sid).toBe(outcome.user!.sid);
    const [audit] = await core.audit.recent(core.account.sid);
    expect(audit).toMatchObject({ type: 'login.succeeded', surface: 'flex', uniqueId: 'ada@example.com', connectionSid: core.connection.sid });
  });

  it('completes a pending sign-in once: the same IdP answer again is a replay', async () => {
    const { core, login, signInAtIdp } = await broker();
    const answer = await signInAtIdp();
    await login.complete({ connectionSid: core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } });
    await expect(
      login.complete({ connectionSid: core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } }),
    ).rejects.toMatchObject({
      code: 45010,
      message: expect.stringMatching(/already completed \(replay\)/),
    });
  });

  it('lets a pending sign-in expire after LANYARD_LOGIN_TTL', async () => {
    const { core, login, signInAtIdp } = await broker({ loginTtlSeconds: 60 });
    const start = Date.now();
    const answer = await signInAtIdp();
    vi.useFakeTimers({ toFake: ['Date'], now: start + 61_000 });
    await expect(
      login.complete({ connectionSid: core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } }),
    ).rejects.toMatchObject({
      code: 45010,
      message: expect.stringMatching(/expired or is unknown; start the sign-in again/),
    });
  });

  it('refuses a RelayState at the ACS of another connection, and a missing one (IdP-initiated)', async () => {
    const a = await broker();
    const b = await broker();
    const answer = await a.signInAtIdp();
    await expect(
      b.login.complete({ connectionSid: b.core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } }),
    ).rejects.toThrow(/expired or is unknown/);
    await expect(
      a.login.complete({ connectionSid: a.core.connection.sid, signInId: undefined, message: { samlResponse: answer.SAMLResponse } }),
    ).rejects.toThrow(/RelayState is missing/);
    // The refused attempt at B did not spend A's pending sign-in.
    await expect(
      a.login.complete({ connectionSid: a.core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } }),
    ).resolves.toMatchObject({ user: expect.anything() });
  });

  it('stores nothing and redirects nowhere until the redirect target, state and PKCE pass', async () => {
    const { login, input, pending } = await broker();
    await expect(login.begin({ ...input, redirectUrl: 'https://evil.example.test/agent/' })).rejects.toMatchObject({ code: 70002 });
    await expect(login.begin({ ...input, codeChallengeMethod: 'plain' })).rejects.toThrow(/only S256/);
    await expect(login.begin({ ...input, codeChallenge: 'short' })).rejects.toThrow(/codeChallenge must be the base64url/);
    await expect(login.begin({ ...input, state: '' })).rejects.toThrow(/state is required/);
    await expect(login.begin({ ...input, clientId: 'another-client' })).rejects.toThrow(/client_id does not belong/);
    expect(await pending()).toBe(0);
    await login.begin(input);
    expect(await pending()).toBe(1);
  });

  it('sends a failed mapping back to the client as an error with its code, and audits it', async () => {
    const { core, login, input, signInAtIdp } = await broker();
    const answer = await signInAtIdp(NO_ROLE.id);
    const outcome = await login.complete({
      connectionSid: core.connection.sid,
      signInId: answer.RelayState,
      message: { samlResponse: answer.SAMLResponse },
    });
    const back = new URL(outcome.redirectTo);
    expect(outcome.user).toBeNull();
    expect(back.searchParams.get('error_code')).toBe('45050');
    expect(back.searchParams.get('state')).toBe(input.state);
    expect(back.searchParams.has('code')).toBe(false);
    const [audit] = await core.audit.recent(core.account.sid);
    expect(audit).toMatchObject({ type: 'login.failed', code: 45050, surface: 'flex' });
  });

  it('on the standard surface, matches redirect URIs exactly and adds iss to the redirect (RFC 9700 §4.1.1, RFC 9207)', async () => {
    const { core, login, input, signInAtIdp } = await broker();
    await core.accounts.setRedirectUris(core.connection.sid, [DESKTOP]);
    const oidc = { surface: 'oidc' as const, clientId: core.connection.clientId, scope: 'openid' };
    await expect(login.begin({ ...input, ...oidc, redirectUrl: DESKTOP + 'x' })).rejects.toMatchObject({
      code: 70003,
      message: expect.stringMatching(/registered for this client \(exact match required/),
    });
    const answer = await signInAtIdp('ada@example.com', oidc);
    const back = new URL(
      (await login.complete({ connectionSid: core.connection.sid, signInId: answer.RelayState, message: { samlResponse: answer.SAMLResponse } }))
        .redirectTo,
    );
    expect(back.searchParams.get('iss')).toBe(core.config.publicUrl);
    expect(back.searchParams.get('code')).toBeTruthy();
  });
});
