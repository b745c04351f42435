import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { pkcePair, postForm, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const RFC6749_CHARSET = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Client registration and authentication at the edges: wrong methods, forged or replayed assertions, native apps. */
describe.each(BACKENDS)('registered OpenID Connect clients on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let connectionSid: string;
  let jwtClientId: string;
  let jwtKey: CryptoKey;
  let secretClient: { id: string; secret: string };

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend);
    connectionSid = (await setupAccount(lanyard, idp)).connection.sid;
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    jwtKey = privateKey;
    jwtClientId = (
      await lanyard.services.clients.register({
        connectionSid,
        tokenEndpointAuthMethod: 'private_key_jwt',
        redirectUris: ['https://rs.example.com/cb'],
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'rs1' }] },
      })
    ).client.clientId;
    const basic = await lanyard.services.clients.register({ connectionSid, redirectUris: ['https://web.example.com/cb'] });
    secretClient = { id: basic.client.clientId, secret: basic.secret! };
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${lanyard.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body),
    });
  const basicAuth = (id: string, secret: string) => ({ authorization: `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}` });
  /** A client assertion; `claims` override the defaults (iss = sub = client, aud = issuer, 60 s). */
  const assertion = (claims: Record<string, unknown> = {}, key: CryptoKey = jwtKey, alg = 'RS256') => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: jwtClientId,
      sub: jwtClientId,
      aud: lanyard.url,
      iat: now,
      exp: now + 60,
      jti: randomBytes(8).toString('hex'),
      ...claims,
    })
      .setProtectedHeader({ alg, kid: 'rs1' })
      .sign(key);
  };
  const introspect = (body: Record<string, string>) => post('/oauth2/introspect', { token: 'lrt_nothing', ...body });

  it('authenticates a private_key_jwt client once per assertion and refuses forged, foreign or long-lived ones', async () => {
    const good = await assertion();
    const first = await introspect({ client_assertion_type: JWT_BEARER, client_assertion: good });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ active: false });
    const refused = async (client_assertion: string, why: RegExp) => {
      const response = await introspect({ client_assertion_type: JWT_BEARER, client_assertion });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_client');
      expect(body.error_description).toMatch(why);
    };
    await refused(good, /already used \(jti replay\)/);
    await refused(await assertion({ aud: 'https://elsewhere.example' }), /claim aud/);
    await refused(await assertion({ exp: Math.floor(Date.now() / 1000) + 3600 }), /within 600 seconds/);
    await refused(await assertion({ exp: Math.floor(Date.now() / 1000) - 120 }), /expired/);
    const stranger = (await generateKeyPair('RS256')).privateKey;
    await refused(await assertion({}, stranger), /not signed by a key registered/);
    // HS256 with any key is never accepted: the client's keys are public.
    await refused(await assertion({}, new Uint8Array(32) as unknown as CryptoKey, 'HS256'), /not signed by a key registered/);
    const noJti = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'rs1' })
      .setIssuer(jwtClientId)
      .setSubject(jwtClientId)
      .setAudience(`${lanyard.url}/oauth2/introspect`)
      .setExpirationTime('60s')
      .sign(jwtKey);
    await refused(noJti, /claim jti/);
  });

  it('refuses a client that uses another method than it registered, or two at once', async () => {
    const asPost = await post('/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: secretClient.id,
      client_secret: secretClient.secret,
    });
    expect(asPost.status).toBe(401);
    expect(await asPost.json()).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringMatching(/must authenticate with client_secret_basic/),
    });
    const both = await post(
      '/oauth2/token',
      { grant_type: 'refresh_token', refresh_token: 'x', client_secret: secretClient.secret },
      basicAuth(secretClient.id, secretClient.secret),
    );
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ error: 'invalid_request' });
    const noSecret = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x', client_id: secretClient.id });
    expect(noSecret.status).toBe(401);
    const wrong = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x' }, basicAuth(secretClient.id, 'lcs_guess'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    // The right secret gets as far as the grant.
    const right = await post(
      '/oauth2/token',
      { grant_type: 'refresh_token', refresh_token: 'lrt_x' },
      basicAuth(secretClient.id, secretClient.secret),
    );
    expect(right.status).toBe(400);
    expect(await right.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('introspection needs a confidential client; revocation answers JSON and wants a token', async () => {
    const { connection } = await setupAccount(lanyard, idp);
    const publicIntrospect = await introspect({ client_id: connection.clientId });
    expect(publicIntrospect.status).toBe(401);
    const missing = await post('/oauth2/revoke', {}, basicAuth(secretClient.id, secretClient.secret));
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/token is required/) });
    const unknown = await post('/oauth2/revoke', { token: 'lrt_unknown' }, basicAuth(secretClient.id, secretClient.secret));
    expect(unknown.status).toBe(200);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('signs a native app in through a private-use URI scheme (RFC 8252 §7.1), public with PKCE', async () => {
    const redirectUri = 'com.example.agentapp:/oauth2redirect';
    await expect(lanyard.services.clients.register({ connectionSid, redirectUris: [redirectUri] })).rejects.toThrow(
      /native apps, which are public clients/,
    );
    await expect(
      lanyard.services.clients.register({ connectionSid, tokenEndpointAuthMethod: 'none', redirectUris: ['com.example.agentapp://host/cb'] }),
    ).rejects.toThrow(/single "\/" after the scheme/);
    await expect(lanyard.services.clients.register({ connectionSid, tokenEndpointAuthMethod: 'none', redirectUris: ['myapp:/cb'] })).rejects.toThrow(
      /reverse domain name/,
    );
    const { client: app } = await lanyard.services.clients.register({ connectionSid, tokenEndpointAuthMethod: 'none', redirectUris: [redirectUri] });
    const { verifier, challenge } = pkcePair();
    const url = new URL(`${lanyard.url}/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      client_id: app.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const start = await fetch(url, { redirect: 'manual' });
    const form = await loginHeadless(idp, start.headers.get('location')!, 'ada@example.com');
    const back = (await postForm(form.action, form.fields)).headers.get('location')!;
    expect(back.startsWith(`${redirectUri}?`)).toBe(true);
    const code = new URL(back).searchParams.get('code')!;
    const tokens = await post('/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: app.clientId,
    });
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as { id_token: string; access_token: string; refresh_token: string };
    expect(JSON.parse(Buffer.from(body.id_token.split('.')[1]!, 'base64url').toString())).toMatchObject({ aud: app.clientId });

    // Userinfo with the token in a form body (RFC 6750 §2.2), but not in two places at once.
    const info = await post('/oauth2/userinfo', { access_token: body.access_token });
    expect(info.status).toBe(200);
    // Scope openid releases sub only (OpenID Connect Core §5.4).
    const released = (await info.json()) as Record<string, unknown>;
    expect({ sub: released.sub, email: released.email, preferred_username: released.preferred_username }).toEqual({
      sub: expect.stringMatching(/^FU/),
      email: undefined,
      preferred_username: undefined,
    });
    const twice = await post('/oauth2/userinfo', { access_token: body.access_token }, { authorization: `Bearer ${body.access_token}` });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: 'invalid_request' });

    // A refresh token is introspected only by the client it was issued to.
    const foreign = await post('/oauth2/introspect', { token: body.refresh_token }, basicAuth(secretClient.id, secretClient.secret));
    expect(await foreign.json()).toEqual({ active: false });
    // The access token is active for a resource server (a confidential client) of the same account.
    const asResource = await post('/oauth2/introspect', { token: body.access_token }, basicAuth(secretClient.id, secretClient.secret));
    expect(await asResource.json()).toMatchObject({ active: true, client_id: app.clientId, scope: 'openid' });
  });

  it('honours scope on a refresh request when it narrows the grant, and refuses a wider one without spending the token', async () => {
    const redirectUri = 'http://127.0.0.1:7777/cb';
    const { client: spa } = await lanyard.services.clients.register({ connectionSid, tokenEndpointAuthMethod: 'none', redirectUris: [redirectUri] });
    const { verifier, challenge } = pkcePair();
    const url = new URL(`${lanyard.url}/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      client_id: spa.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid profile email',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const form = await loginHeadless(idp, (await fetch(url, { redirect: 'manual' })).headers.get('location')!, 'ada@example.com');
    const code = new URL((await postForm(form.action, form.fields)).headers.get('location')!).searchParams.get('code')!;
    // Without redirect_uri: told it is required (not that it "does not match"), and the code is not spent.
    const noRedirect = await post('/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: spa.clientId });
    expect(noRedirect.status).toBe(400);
    expect(await noRedirect.json()).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/^redirect_uri is required/),
    });
    const first = await post('/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: spa.clientId,
    });
    let { refresh_token: refreshToken } = (await first.json()) as { refresh_token: string };
    const refresh = async (scope?: string) => {
      const response = await post('/oauth2/token', {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: spa.clientId,
        ...(scope ? { scope } : {}),
      });
      const body = (await response.json()) as Record<string, string>;
      if (response.status === 200) refreshToken = body.refresh_token!;
      return { status: response.status, body };
    };
    // Another client holding this token learns nothing of its grant: invalid_grant, not invalid_scope.
    const { client: other } = await lanyard.services.clients.register({
      connectionSid,
      tokenEndpointAuthMethod: 'none',
      redirectUris: [redirectUri],
    });
    const stolen = await post('/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: other.clientId,
      scope: 'openid email roles',
    });
    expect(stolen.status).toBe(400);
    expect(await stolen.json()).toMatchObject({ error: 'invalid_grant' });
    const wider = await refresh('openid email roles');
    expect(wider).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const narrowed = await refresh('openid email');
    expect(narrowed.status).toBe(200); // the refused request did not spend the token
    expect(narrowed.body).toMatchObject({ scope: 'openid email', id_token: expect.any(String) });
    const withoutOpenid = await refresh('email');
    expect(withoutOpenid.body.scope).toBe('email');
    expect(withoutOpenid.body.id_token).toBeUndefined();
    // Narrowing is per response: the next refresh without scope gets the original grant back.
    expect((await refresh()).body).toMatchObject({ scope: 'openid profile email', id_token: expect.any(String) });
  });

  it('takes POST at the authorization endpoint (OpenID Connect Core §3.1.2.1) and still refuses repeated parameters', async () => {
    const { challenge } = pkcePair();
    const params = new URLSearchParams({
      client_id: secretClient.id,
      redirect_uri: 'https://web.example.com/cb',
      response_type: 'code',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const posted = await post('/oauth2/authorize', Object.fromEntries(params));
    expect(posted.status).toBe(302);
    expect(posted.headers.get('location')).toMatch(new RegExp(`^${idp.ssoUrl}`));
    params.append('redirect_uri', 'https://evil.example/cb');
    const repeated = await fetch(`${lanyard.url}/oauth2/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params,
    });
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('location')).toBeNull();
  });

  it('answers prompt=none with login_required, and a forged id_token_hint with invalid_request', async () => {
    const back = async (extra: Record<string, string>) => {
      const url = new URL(`${lanyard.url}/oauth2/authorize`);
      for (const [k, v] of Object.entries({
        client_id: secretClient.id,
        redirect_uri: 'https://web.example.com/cb',
        response_type: 'code',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        state: 's',
        ...extra,
      }))
        url.searchParams.set(k, v);
      const location = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
      expect(location.origin).toBe('https://web.example.com');
      return { error: location.searchParams.get('error'), description: location.searchParams.get('error_description') ?? '' };
    };
    expect(await back({ prompt: 'none' })).toMatchObject({ error: 'login_required' });
    expect(await back({ prompt: 'none login' })).toMatchObject({ error: 'invalid_request' });
    expect(await back({ prompt: 'none', id_token_hint: 'eyJhbGciOiJub25lIn0.e30.' })).toMatchObject({ error: 'invalid_request' });
    // Every description stays within RFC 6749's characters and never repeats what the client sent.
    const tricks: Array<Record<string, string>> = [
      { code_challenge_method: 'plain"\\é' },
      { response_type: 'token<b>"' },
      { scope: 'x"y' },
      { response_mode: 'form_post"' },
    ];
    for (const extra of tricks) {
      const { description } = await back(extra);
      expect(description).toMatch(RFC6749_CHARSET);
      expect(description).not.toMatch(/<b>|é/);
    }
  });
});
