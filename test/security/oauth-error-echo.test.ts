import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const RFC6749_CHARSET = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const MARKER = 'ZZattackerZZ';

/** Token endpoints must not echo what the client sent (parameter values or names) in their error text. */
describe('token endpoint errors never echo client input', () => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let connectionSid: string;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    connectionSid = (await setupAccount(lanyard, idp)).connection.sid;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it('Flex token endpoint: a malformed sso_profile_sid is refused without quoting it back', async () => {
    const response = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'AuthorizationCode', sso_profile_sid: `"><script>${MARKER}</script>`, code: 'x', code_verifier: 'y' }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { message: string };
    expect(body.message).not.toContain(MARKER);
    expect(body.message).toMatch(RFC6749_CHARSET);
  });

  it('Flex token endpoint (refresh): same for the RefreshToken grant', async () => {
    const response = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'RefreshToken', sso_profile_sid: `JQ${MARKER}`, refresh_token: 'lrt_x' }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).not.toContain(MARKER);
  });

  it('/oauth2/token: a repeated unknown parameter is refused without naming it', async () => {
    const response = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${MARKER}=1&${MARKER}=2&grant_type=refresh_token`,
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).not.toContain(MARKER);
  });

  it('/oauth2/token: a 413 is an OAuth error (error, error_description)', async () => {
    const response = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${'a'.repeat(1024 * 1024 + 10)}`,
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(RFC6749_CHARSET);
  });

  it('authorize and logout: a JSON 70003 carries error and an RFC 6749 error_description', async () => {
    const { client } = await lanyard.services.clients.register({
      connectionSid,
      tokenEndpointAuthMethod: 'none',
      redirectUris: ['http://127.0.0.1:7777/cb'],
    });
    const authorize = await fetch(
      `${lanyard.url}/oauth2/authorize?client_id=${client.clientId}&redirect_uri=${encodeURIComponent(`http://127.0.0.1:7777/${MARKER}`)}&response_type=code`,
      { redirect: 'manual', headers: { accept: 'application/json' } },
    );
    const logout = await fetch(
      `${lanyard.url}/oauth2/logout?client_id=${client.clientId}&post_logout_redirect_uri=${encodeURIComponent(`http://127.0.0.1:7777/${MARKER}`)}`,
      { redirect: 'manual', headers: { accept: 'application/json' } },
    );
    for (const response of [authorize, logout]) {
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: string; error_description: string; code: number };
      expect(body).toMatchObject({ error: 'invalid_request', code: 70003 });
      expect(body.error_description).toMatch(RFC6749_CHARSET);
      expect(body.error_description).not.toContain(MARKER);
    }
  });

  it('/oauth2/authorize: a repeated parameter is named only when it is one of ours', async () => {
    const response = await fetch(`${lanyard.url}/oauth2/authorize?scope=openid&scope=email`, {
      redirect: 'manual',
      headers: { accept: 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error_description: string }).error_description).toBe('scope must not be repeated.');
  });
});
