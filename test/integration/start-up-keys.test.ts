import * as client from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { postForm, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { heldRsa as rsa } from '../support/held-rsa.ts';

// The server's RSA key generation is held until the test releases it: requests made "right
// after start" reach the server while its RS256 key (ID tokens by default) is still being made,
// however fast this machine generates RSA keys.
vi.mock('jose', async (original) => (await import('../support/held-rsa.ts')).joseWithHeldRsa(await original()));

const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
const pending = (promise: Promise<unknown>) => {
  const state = { settled: false };
  void promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
};

/**
 * Start-up does not wait for the RS256 key of a fresh database (it is generated in the
 * background): JWKS, discovery and the first ID token must still be right just after start.
 */
describe.each(BACKENDS)('requests right after start on a fresh %s database', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    rsa.hold();
    lanyard = await startTestLanyard(backend);
  });
  afterAll(async () => {
    rsa.release();
    await lanyard?.stop();
    await idp?.close();
  });

  it('answers discovery at once, and JWKS and the first RS256 ID token once the key exists', async () => {
    // Ready, with the access-token key (ES256) only: the RS256 key is still being generated.
    expect(lanyard.services.keys.list().map((k) => k.alg)).toEqual(['ES256']);
    const { connection } = await setupAccount(lanyard, idp);
    await lanyard.services.accounts.setRedirectUris(connection.sid, [REDIRECT_URI]);
    const config = await client.discovery(new URL(lanyard.url), connection.clientId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);

    const jwksResponse = fetch(`${lanyard.url}/.well-known/jwks.json`);
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      connection: connection.sid,
    });
    const start = await fetch(authorizationUrl, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const form = await loginHeadless(idp, start.headers.get('location')!, 'ada@example.com');
    const callback = new URL((await postForm(form.action, form.fields)).headers.get('location')!);
    // openid-client checks the ID token: signature through JWKS, iss, aud, nonce, at_hash.
    const grant = client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce });
    const jwksState = pending(jwksResponse);
    const grantState = pending(grant);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(jwksState.settled).toBe(false);
    expect(grantState.settled).toBe(false);

    rsa.release();
    const jwks = (await (await jwksResponse).json()) as { keys: Array<Record<string, unknown>> };
    const tokens = await grant;
    const { alg, kid } = decodeProtectedHeader(tokens.id_token!);
    expect(alg).toBe('RS256');
    expect(jwks.keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ kty: 'EC', alg: 'ES256' }), expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid })]),
    );
    expect(tokens.claims()).toMatchObject({ iss: lanyard.url, aud: connection.clientId, name: 'Ada Lovelace' });
  });
});
