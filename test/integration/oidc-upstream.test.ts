import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, authorize, exchangeCode, pkcePair, refreshTokens, validateToken } from '../support/flows.ts';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../support/oidc-upstream.ts';

const USERS = [
  { sub: 'nora', name: 'Nora Agent', email: 'nora@example.com', roles: ['agent'] },
  { sub: 'sam', name: 'Sam Supervisor', email: 'sam@example.com', groups: ['cc-supervisors', 'everyone'] },
  { sub: 'rolf', name: 'Rolf Roleless', email: 'rolf@example.com' },
  // Values a provider can put in JSON that no database keeps as sent.
  { sub: 'nul\u0000sub', name: 'Nul Sub', email: 'nul@example.com', roles: ['agent'] },
  { sub: 'lone', name: 'Lone \ud800 Surrogate', email: 'lone@example.com', roles: ['agent'] },
  {
    sub: 'dora',
    name: 'Dora Agent',
    email: 'dora@example.com',
    roles: ['agent'],
    extra: { resource_access: { desk: { roles: ['a', '\udc00'], note: 'sales\u0000' } } },
  },
  // Role values Lanyard drops and quotes: one cut at 100 characters inside an emoji, one with a NUL.
  { sub: 'emil', name: 'Emil Agent', email: 'emil@example.com', roles: ['agent', `${'g'.repeat(99)}\u{1F600}`, 'x\u0000'] },
  // 700 Kelvin signs: 700 bytes folded to lower case, 2,100 as sent (and stored: not an e-mail id).
  { sub: '\u212A'.repeat(700), name: 'Kelvin', email: 'kelvin@example.com', roles: ['agent'] },
];

/** Enhanced SSO brokered to an OpenID Connect provider (oidc-provider, a real, certified OP). */
/** A JSON call to the admin API with an admin key: its status and its body. */
function adminApi(lanyardUrl: string, secret: string) {
  return async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${lanyardUrl}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

describe.each(BACKENDS)('OpenID Connect identity provider on %s', (backend) => {
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let accountSid: string;
  let authToken: string;
  let connectionSid: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
    upstream = await startUpstreamProvider({
      users: USERS,
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard',
      clientSecret: 'upstream-secret',
      keys: [await signingKey('key-1')],
    });
    const { accounts } = lanyard.services;
    const created = await accounts.createAccount('OIDC contact center');
    accountSid = created.account.sid;
    authToken = created.authToken;
    const connection = await accounts.setOidc(
      accountSid,
      { issuer: upstream.issuer, clientId: 'lanyard', clientSecret: 'upstream-secret', scopes: 'openid profile email roles' },
      (settings) => discoverProvider(settings.issuer),
    );
    connectionSid = connection.sid;
    await accounts.setMapping(connectionSid, { roles: ['roles', 'groups'], roleValues: { 'cc-supervisors': 'supervisor', everyone: 'agent' } });
    await accounts.addTrustedUrl(accountSid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(accountSid, DESKTOP_URL);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await upstream?.close();
  });

  async function signIn(login: string) {
    const { verifier, challenge } = pkcePair();
    const start = await authorize(lanyard, {
      ssoProfileSid: connectionSid,
      redirectUrl: DESKTOP_URL,
      state: 'st',
      nonce: 'n-1',
      codeChallenge: challenge,
    });
    expect(start.status).toBe(302);
    const toUpstream = new URL(start.headers.get('location')!);
    expect(toUpstream.origin).toBe(upstream.issuer);
    expect(toUpstream.searchParams.get('code_challenge_method')).toBe('S256');
    const callback = await upstreamLoginHeadless(toUpstream.toString(), login);
    expect(callback.toString()).toMatch(new RegExp(`^${lanyard.url}/login/oidc/callback\\?`));
    const back = await fetch(callback, { redirect: 'manual' });
    expect(back.status).toBe(303);
    const desktop = new URL(back.headers.get('location')!);
    return { desktop, verifier };
  }

  /** The desktop's code exchange for a sign-in that came back with a code. */
  const redeem = (desktop: URL, verifier: string) =>
    exchangeCode(lanyard, connectionSid, { code: desktop.searchParams.get('code')!, verifier, nonce: 'n-1', state: 'st', callback: desktop });

  it('signs in through the provider and issues Flex tokens from its claims', async () => {
    const { desktop, verifier } = await signIn('nora');
    expect(desktop.searchParams.get('state')).toBe('st');
    const tokens = await redeem(desktop, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_info).toMatchObject({
      name_id: 'nora',
      identity: 'nora',
      roles: ['agent'],
      full_name: 'Nora Agent',
      email: 'nora@example.com',
    });
    expect((await validateToken(lanyard, accountSid, authToken, String(tokens.body.access_token))).body.valid).toBe(true);
  });

  it('keeps the client secret sealed at rest', async () => {
    const connection = await lanyard.services.accounts.getConnection(connectionSid);
    expect(connection.oidc?.sealedClientSecret).toMatch(/^v1\./);
    expect(JSON.stringify(connection)).not.toContain('upstream-secret');
  });

  it("maps IdP groups to roles with the connection's value map", async () => {
    const { desktop, verifier } = await signIn('sam');
    const tokens = await redeem(desktop, verifier);
    expect((tokens.body.token_info as { roles: string[] }).roles).toEqual(['supervisor', 'agent']);
  });

  it('fails with 45050 when the provider sends no roles', async () => {
    const { desktop } = await signIn('rolf');
    expect(desktop.searchParams.get('code')).toBeNull();
    expect(desktop.searchParams.get('error_code')).toBe('45050');
    expect(desktop.searchParams.get('error_description')).toMatch(/"roles"/);
  });

  it('refuses a sub or profile value no database keeps as sent with 45050 naming it, alike on every backend, and keeps other claims with U+FFFD for such characters', async () => {
    for (const [login, expected] of [
      ['nul\u0000sub', /unique id \(SAML NameID or OpenID Connect sub\) cannot be used: it holds a NUL character \(U\+0000\)\. At the IdP, send/],
      ['\u212A'.repeat(700), /unique id \(SAML NameID or OpenID Connect sub\) cannot be used: it is 2,100 bytes long in UTF-8 \(at most 2,000\)/],
      [
        'lone',
        /attribute "full_name" cannot be used: it holds an unpaired UTF-16 surrogate \(not Unicode text\)\. Correct the value at the identity provider/,
      ],
    ] as const) {
      const { desktop } = await signIn(login);
      expect(desktop.searchParams.get('code')).toBeNull();
      expect(desktop.searchParams.get('error_code')).toBe('45050');
      expect(desktop.searchParams.get('error_description')).toMatch(expected);
    }
    // A desktop's state with a NUL is refused at the start, as any malformed parameter of the Flex authorize (a 400 page).
    const start = await authorize(lanyard, {
      ssoProfileSid: connectionSid,
      redirectUrl: DESKTOP_URL,
      state: 'st\u0000',
      nonce: 'n-1',
      codeChallenge: pkcePair().challenge,
    });
    expect(start.status).toBe(400);
    expect(await start.json()).toMatchObject({ code: 20001, message: 'state: holds a NUL character (U+0000); send it without that character.' });
    // The mapping dry run answers as these sign-ins did: refused for the unique id or a mapped
    // field, signed in with an unmapped claim that cannot be kept as sent.
    const { secret } = await lanyard.services.adminKeys.create('dry run of unstorable values');
    const api = adminApi(lanyard.url, secret);
    const dryRun = (attributes: Record<string, unknown>, nameId?: string) =>
      api('POST', `/connections/${connectionSid}/mapping/dry-run`, { ...(nameId ? { name_id: nameId } : {}), attributes });
    const fields = { name: 'Dora Agent', email: 'dora@example.com', roles: ['agent'] };
    expect((await dryRun({ ...fields, sub: 'é'.repeat(1100) })).body).toMatchObject({
      ok: false,
      error: {
        code: 45050,
        message: expect.stringMatching(/unique id \(SAML NameID or OpenID Connect sub\) cannot be used: it is 2,200 bytes long/),
      },
    });
    expect((await dryRun({ ...fields, name: 'Lone \ud800' }, 'dora')).body).toMatchObject({
      ok: false,
      error: { code: 45050, message: expect.stringMatching(/attribute "full_name" cannot be used: it holds an unpaired UTF-16 surrogate/) },
    });
    expect((await dryRun({ ...fields, note: 'sales\u0000' }, 'dora')).body).toMatchObject({ ok: true, profile: { full_name: 'Dora Agent' } });
    const { desktop, verifier } = await signIn('dora');
    const tokens = await redeem(desktop, verifier);
    expect(tokens.status).toBe(200);
    const user = await lanyard.services.users.get((tokens.body.token_info as { flex_user_sid: string }).flex_user_sid);
    expect(user.attributes['resource_access.desk.roles']).toEqual(['a', '\ufffd']);
    expect(user.attributes['resource_access.desk.note']).toEqual(['sales\ufffd']);
    // Lanyard's own quote of a dropped role, cut inside an emoji, is kept (with U+FFFD) in the audit.
    const emil = await signIn('emil');
    expect((await redeem(emil.desktop, emil.verifier)).status).toBe(200);
    const audited = (await lanyard.services.audit.recent(accountSid, 5)).find((e) => e.type === 'login.succeeded');
    expect(audited?.reason).toContain(`${'g'.repeat(99)}\ufffd`);
  });

  it('follows a signing key rotation at the provider without a failed login', async () => {
    upstream.rotate([await signingKey('key-2')]);
    const { desktop, verifier } = await signIn('nora');
    const tokens = await redeem(desktop, verifier);
    expect(tokens.status).toBe(200);
  });

  it('rejects a callback whose state is not a pending sign-in of ours', async () => {
    const forged = await fetch(`${lanyard.url}/login/oidc/callback?code=abc&state=lr_forged`, { redirect: 'manual' });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('location')).toBeNull();
  });

  it('sets the provider and dry-runs the mapping through the admin API', async () => {
    const { secret } = await lanyard.services.adminKeys.create('test');
    const api = adminApi(lanyard.url, secret);
    const { account } = await lanyard.services.accounts.createAccount('Admin OIDC');
    const unreachable = await api('PUT', `/accounts/${account.sid}/oidc`, { issuer: 'http://127.0.0.1:9/nowhere', client_id: 'x' });
    expect(unreachable.status).toBe(400);
    expect(unreachable.body.message).toMatch(/could not be discovered/);
    const set = await api('PUT', `/accounts/${account.sid}/oidc`, {
      issuer: upstream.issuer,
      client_id: 'lanyard',
      client_secret: 'upstream-secret',
    });
    expect(set.status).toBe(200);
    expect(JSON.stringify(set.body)).not.toContain('upstream-secret');

    const preview = await api('POST', `/connections/${connectionSid}/mapping/dry-run`, {
      name_id: 'sam@example.com',
      attributes: { name: 'Sam', email: 'sam@example.com', groups: ['cc-supervisors'] },
    });
    expect(preview.body).toMatchObject({ ok: true, profile: { identity: 'sam_40example_2Ecom', full_name: 'Sam', roles: ['supervisor'] } });
    const missing = await api('POST', `/connections/${connectionSid}/mapping/dry-run`, {
      name_id: 'x',
      attributes: { name: 'X', email: 'x@example.com' },
    });
    expect(missing.body).toMatchObject({ ok: false, error: { code: 45050, message: expect.stringContaining('"roles"') } });
  });

  it('stops a disabled user at once: validation fails and the next refresh is refused', async () => {
    const { desktop, verifier } = await signIn('nora');
    const tokens = await redeem(desktop, verifier);
    const userSid = (tokens.body.token_info as { flex_user_sid: string }).flex_user_sid;
    await lanyard.services.users.setDisabled(userSid, true);
    expect((await validateToken(lanyard, accountSid, authToken, String(tokens.body.access_token))).body).toMatchObject({
      valid: false,
      message: expect.stringMatching(/disabled/),
    });
    const refresh = await refreshTokens(lanyard, connectionSid, String(tokens.body.refresh_token));
    expect(refresh.status).toBe(400);
    expect(refresh.body.message).toMatch(/disabled/);
    await lanyard.services.users.setDisabled(userSid, false);
  });

  it('keeps the stored client secret when the settings are saved again, and makes a public client only when told (admin API)', async () => {
    const { secret } = await lanyard.services.adminKeys.create('secret keeping');
    const api = adminApi(lanyard.url, secret);
    const sealed = (await lanyard.services.accounts.getConnection(connectionSid)).oidc?.sealedClientSecret;
    // Saved again without client_secret (same issuer and client ID): the secret stays, sign-ins still work.
    expect((await api('PUT', `/accounts/${accountSid}/oidc`, { issuer: upstream.issuer, client_id: 'lanyard' })).status).toBe(200);
    const kept = await lanyard.services.accounts.getConnection(connectionSid);
    expect(kept.oidc).toMatchObject({ sealedClientSecret: sealed, scopes: 'openid profile email roles' });
    const again = await signIn('nora');
    expect((await redeem(again.desktop, again.verifier)).status).toBe(200);
    const lastSave = async () => (await lanyard.services.audit.recent(accountSid, 20)).find((e) => /OpenID Connect provider/.test(e.reason ?? ''));
    const audited = await lastSave();
    expect(audited?.reason).toMatch(/client ID lanyard, scopes "openid profile email roles", client secret kept/);
    expect(JSON.stringify(audited)).not.toContain('upstream-secret');

    // Another client ID without a secret: refused, nothing saved.
    const moved = await api('PUT', `/accounts/${accountSid}/oidc`, { issuer: upstream.issuer, client_id: 'another-client' });
    expect(moved.status).toBe(400);
    expect(moved.body.message).toMatch(/client ID changed.*public_client/);
    expect((await lanyard.services.accounts.getConnection(connectionSid)).oidc?.clientId).toBe('lanyard');
    // Scopes without openid: refused at save time.
    const noOpenid = await api('PUT', `/accounts/${accountSid}/oidc`, {
      issuer: upstream.issuer,
      client_id: 'lanyard',
      scopes: 'profile email roles',
    });
    expect(noOpenid.status).toBe(400);
    expect(noOpenid.body.message).toMatch(/must contain "openid" \(OpenID Connect Core §3\.1\.2\.1/);

    // A public client when said so: the provider answers invalid_client, and the error names the missing secret.
    const made = await api('PUT', `/accounts/${accountSid}/oidc`, { issuer: upstream.issuer, client_id: 'lanyard', public_client: true });
    expect(made.status).toBe(200);
    expect((await lastSave())?.reason).toMatch(/client secret removed/);
    const refused = await signIn('nora');
    expect(refused.desktop.searchParams.get('error_description')).toMatch(
      /invalid_client.*no client secret is stored for this connection \(it is a public client\)/,
    );

    // Back to the confidential client, secret and narrower scopes: a claim the scopes leave out names the scope (45050).
    const narrowed = await api('PUT', `/accounts/${accountSid}/oidc`, {
      issuer: upstream.issuer,
      client_id: 'lanyard',
      client_secret: 'upstream-secret',
      scopes: 'openid profile roles',
    });
    expect(narrowed.status).toBe(200);
    const noEmail = await signIn('nora');
    expect(noEmail.desktop.searchParams.get('error_code')).toBe('45050');
    const description = noEmail.desktop.searchParams.get('error_description')!;
    expect(description).toMatch(/mandatory claim "email"\. Add it to the ID token or userinfo/);
    expect(description).toMatch(/without "email".*OpenID Connect Core §5\.4.*--scopes "openid profile roles email"/);
    expect(description).toContain('"Attributes and roles"');
    expect(
      (await api('PUT', `/accounts/${accountSid}/oidc`, { issuer: upstream.issuer, client_id: 'lanyard', scopes: 'openid profile email roles' }))
        .status,
    ).toBe(200);
    const restored = await signIn('nora');
    expect((await redeem(restored.desktop, restored.verifier)).status).toBe(200);
  });

  it('names the discovery URL and the status a non-OpenID Connect issuer answered', async () => {
    const { secret } = await lanyard.services.adminKeys.create('discovery');
    const response = await fetch(`${lanyard.url}/admin/v1/accounts/${accountSid}/oidc`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      // Lanyard itself is no OpenID Provider under /nowhere: its well-known path there is a 404.
      body: JSON.stringify({ issuer: `${lanyard.url}/nowhere`, client_id: 'lanyard', public_client: true }),
    });
    expect(response.status).toBe(400);
    const { message } = (await response.json()) as { message: string };
    expect(message).toContain(`${lanyard.url}/nowhere/.well-known/openid-configuration answered HTTP 404`);
    // The question ends the message: no stray "." after it.
    expect(message).toMatch(new RegExp(`is ${lanyard.url}/nowhere the provider's issuer URL\\?$`));
  });
});
