import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { pkcePair, postForm, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * /oauth2/token refresh with `scope` (tokens/grant-scope.ts): the scope check must run only for a
 * live refresh token of this client, after reuse detection. It used to run on the stored record
 * first, so a spent (or revoked) token sent with a wider scope answered invalid_scope and never
 * reached reuse detection. And scope must limit the claims released (OIDC Core §5.4).
 */
describe('refresh scope vs. the token core', () => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let connectionSid: string;
  const redirectUri = 'http://127.0.0.1:7777/cb';

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite', { refreshGraceSeconds: 0, rateLimitLoginPerMinute: 10_000, rateLimitTokenPerMinute: 10_000 });
    connectionSid = (await setupAccount(lanyard, idp)).connection.sid;
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

  async function signIn(scope: string) {
    const { client } = await lanyard.services.clients.register({ connectionSid, tokenEndpointAuthMethod: 'none', redirectUris: [redirectUri] });
    const { verifier, challenge } = pkcePair();
    const url = new URL(`${lanyard.url}/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      client_id: client.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const form = await loginHeadless(idp, (await fetch(url, { redirect: 'manual' })).headers.get('location')!, 'ada@example.com');
    const code = new URL((await postForm(form.action, form.fields)).headers.get('location')!).searchParams.get('code')!;
    const first = await post('/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: client.clientId,
    });
    expect(first.status).toBe(200);
    return { clientId: client.clientId, tokens: (await first.json()) as Record<string, string> };
  }

  it('a spent refresh token replayed with a wider scope is invalid_grant and triggers reuse detection (RFC 9700 §4.14.2)', async () => {
    const { clientId, tokens } = await signIn('openid profile');
    const spent = tokens.refresh_token!;
    const rotated = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: spent, client_id: clientId });
    expect(rotated.status).toBe(200);
    const current = ((await rotated.json()) as Record<string, string>).refresh_token!;

    // The attacker replays the spent token, adding a scope that was never granted.
    const replay = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: spent, client_id: clientId, scope: 'openid email' });
    expect(replay.status).toBe(400);
    const replayBody = await replay.json();
    // Reuse of a spent token ends the family: the current token must no longer work.
    const after = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: current, client_id: clientId });
    expect({ replay: replayBody.error, currentAfterReplay: after.status }).toEqual({ replay: 'invalid_grant', currentAfterReplay: 400 });
  });

  it('a revoked refresh token answers invalid_grant whatever scope it asks for (no oracle on a dead grant)', async () => {
    const { clientId, tokens } = await signIn('openid profile');
    const revoke = await post('/oauth2/revoke', { token: tokens.refresh_token!, client_id: clientId });
    expect(revoke.status).toBe(200);
    const asked = await post('/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: clientId,
      scope: 'openid email',
    });
    expect(await asked.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('userinfo releases no email claims to a token granted scope openid only (OIDC Core §5.4)', async () => {
    const { tokens } = await signIn('openid');
    const info = await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(info.status).toBe(200);
    const body = (await info.json()) as Record<string, unknown>;
    expect(body.sub).toEqual(expect.any(String));
    expect(body.email).toBeUndefined();
  });

  const idTokenClaims = (idToken: string) => JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  const userinfo = async (accessToken: string) =>
    (await (await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as Record<
      string,
      unknown
    >;

  it('an ID token for scope openid carries no profile, email or roles claims', async () => {
    const { tokens } = await signIn('openid');
    const claims = idTokenClaims(tokens.id_token!);
    expect(claims.sub).toEqual(expect.any(String));
    expect({ name: claims.name, email: claims.email, roles: claims.roles, preferred_username: claims.preferred_username }).toEqual({
      name: undefined,
      email: undefined,
      roles: undefined,
      preferred_username: undefined,
    });
  });

  it('each scope releases its own claims, in the ID token and userinfo alike', async () => {
    const { tokens } = await signIn('openid profile email roles');
    const claims = idTokenClaims(tokens.id_token!);
    expect(claims).toMatchObject({ email: 'ada@example.com', email_verified: true, name: expect.any(String), roles: expect.any(Array) });
    expect(await userinfo(tokens.access_token!)).toMatchObject({ email: 'ada@example.com', name: expect.any(String), roles: expect.any(Array) });
  });

  it('a refresh narrowed to openid email releases only email claims from its tokens', async () => {
    const { clientId, tokens } = await signIn('openid profile email roles');
    const narrowed = await post('/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: clientId,
      scope: 'openid email',
    });
    expect(narrowed.status).toBe(200);
    const body = (await narrowed.json()) as Record<string, string>;
    expect(body.scope).toBe('openid email');
    const claims = idTokenClaims(body.id_token!);
    expect({ email: claims.email, name: claims.name, roles: claims.roles }).toEqual({ email: 'ada@example.com', name: undefined, roles: undefined });
    const info = await userinfo(body.access_token!);
    expect({ email: info.email, name: info.name, roles: info.roles }).toEqual({ email: 'ada@example.com', name: undefined, roles: undefined });
    // The session keeps its grant: the next refresh without scope has it all again.
    const full = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: body.refresh_token!, client_id: clientId });
    expect(((await full.json()) as Record<string, string>).scope).toBe('openid profile email roles');
  });

  it('a live token asking for a wider scope is invalid_scope and stays usable', async () => {
    const { clientId, tokens } = await signIn('openid profile');
    const wider = await post('/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: clientId,
      scope: 'openid email',
    });
    expect({ status: wider.status, error: ((await wider.json()) as Record<string, string>).error }).toEqual({ status: 400, error: 'invalid_scope' });
    const again = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: clientId });
    expect(again.status).toBe(200);
  });
});
