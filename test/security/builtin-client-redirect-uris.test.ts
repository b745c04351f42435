import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked by value
type Body = Record<string, any>;

/**
 * PATCH /admin/v1/clients/{client_id} on a connection's built-in client stored redirect URIs
 * through a weaker validator than the registered clients' validateRedirectUris: URIs that a
 * registered client is refused were accepted for the built-in one. Now both use
 * accounts/redirect-uris.ts.
 */
describe('built-in client redirect URIs are validated like a registered client', () => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let key: string;
  let accountSid: string;
  let builtInId: string;

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Body };
  }

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    key = (await lanyard.services.adminKeys.create('redirect uri attack')).secret;
    const setup = await setupAccount(lanyard, idp);
    accountSid = setup.account.sid;
    builtInId = setup.connection.clientId;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  const BAD: Array<[string, string]> = [
    ['an empty fragment', 'https://app.example.com/cb#'],
    ['a tab (WHATWG drops it: stored and matched differently from where the browser goes)', 'https://app.example.com/c\tb'],
    ['a newline', 'https://app.example.com/cb\n'],
    ['a space', 'https://app.example.com/c b'],
    ['a backslash', 'https://app.example.com\\@evil.example/cb'],
  ];

  // Userinfo that looks like a trusted host: the code goes to evil.example. Trusted URLs refuse it
  // ("user information is not allowed"); client redirect URIs (registered and built-in) take it.
  it.each([
    ['registered', 'POST'],
    ['built-in', 'PATCH'],
  ])('the %s client refuses userinfo that reads like a host (https://rp.example.com@evil.example/cb)', async (_kind, method) => {
    const uri = 'https://rp.example.com@evil.example/cb';
    const answer =
      method === 'POST'
        ? await api('POST', `/accounts/${accountSid}/clients`, { token_endpoint_auth_method: 'none', redirect_uris: [uri] })
        : await api('PATCH', `/clients/${builtInId}`, { redirect_uris: [uri] });
    expect(answer.status).toBe(400);
  });

  it.each([
    ['registered', 'POST'],
    ['built-in', 'PATCH'],
  ])('the %s client refuses a wildcard host (https://*.example.com/cb)', async (_kind, method) => {
    const uri = 'https://*.example.com/cb';
    const answer =
      method === 'POST'
        ? await api('POST', `/accounts/${accountSid}/clients`, { token_endpoint_auth_method: 'none', redirect_uris: [uri] })
        : await api('PATCH', `/clients/${builtInId}`, { redirect_uris: [uri] });
    expect(answer.status).toBe(400);
    expect(answer.body.message ?? answer.body.more_info ?? JSON.stringify(answer.body)).toMatch(/wildcard/i);
  });

  it('the built-in client is public: it takes a private-use scheme (RFC 8252 §7.1), whose opaque origin never becomes a CORS origin', async () => {
    const patched = await api('PATCH', `/clients/${builtInId}`, { redirect_uris: ['com.example.desk:/cb', 'https://rp.example.com/cb'] });
    expect(patched.status).toBe(200);
    expect((await api('GET', `/clients/${builtInId}`)).body.redirect_uris).toEqual(['com.example.desk:/cb', 'https://rp.example.com/cb']);
    expect(await lanyard.services.accounts.isTrustedOrigin('null')).toBe(false);
    expect(await lanyard.services.accounts.isTrustedOrigin('https://rp.example.com')).toBe(true);
  });

  it('a value stored before the validator refused it never matches at /oauth2/authorize', async () => {
    const connection = await lanyard.services.accounts.getConnection((await lanyard.services.accounts.connectionsOf(accountSid))[0]!.sid);
    await lanyard.services.accounts.updateConnection(connection.sid, (current) => ({
      ...current,
      redirectUris: ['https://rp.example.com/c\tb', 'https://rp.example.com\\@evil.example/cb'],
    }));
    for (const uri of ['https://rp.example.com/c\tb', 'https://rp.example.com\\@evil.example/cb']) {
      const query = new URLSearchParams({
        client_id: builtInId,
        redirect_uri: uri,
        response_type: 'code',
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 's',
      });
      const response = await fetch(`${lanyard.url}/oauth2/authorize?${query}`, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    }
    await lanyard.services.accounts.updateConnection(connection.sid, () => connection);
  });

  it.each(BAD)('a registered public client refuses %s', async (_name, uri) => {
    const created = await api('POST', `/accounts/${accountSid}/clients`, { token_endpoint_auth_method: 'none', redirect_uris: [uri] });
    expect(created.status).toBe(400);
  });

  it.each(BAD)('the built-in client refuses %s too (PATCH /admin/v1/clients/{client_id})', async (_name, uri) => {
    const patched = await api('PATCH', `/clients/${builtInId}`, { redirect_uris: [uri] });
    expect(patched.status).toBe(400);
    expect((await api('GET', `/clients/${builtInId}`)).body.redirect_uris).not.toContain(uri);
  });
});
