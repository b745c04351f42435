import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../../../../test/support/oidc-upstream.ts';
import type { OidcIdpSettings } from '../accounts/model.ts';
import { SecretBox } from '../crypto/secret-box.ts';
import { OidcConnection, discoverProvider, type UpstreamChecks } from './oidc-connection.ts';

const CALLBACK = 'https://sso.example.test/login/oidc/callback';
const CLIENT_ID = 'lanyard-unit';
const CLIENT_SECRET = 'upstream-client-secret-' + randomBytes(8).toString('hex');

/** OidcConnection against panva's oidc-provider (a certified OpenID Provider) on loopback. */
describe('OidcConnection, against oidc-provider', () => {
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let connection: OidcConnection;
  let settings: OidcIdpSettings;
  const secrets = new SecretBox(randomBytes(32));

  beforeAll(async () => {
    upstream = await startUpstreamProvider({
      users: [{ sub: 'user-42', name: 'Grace Hopper', email: 'grace@example.com', roles: ['agent', 'supervisor'] }],
      redirectUri: CALLBACK,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      keys: [await signingKey('k1')],
    });
    settings = {
      issuer: upstream.issuer,
      clientId: CLIENT_ID,
      sealedClientSecret: secrets.seal(CLIENT_SECRET),
      scopes: 'openid profile email roles',
    };
    connection = new OidcConnection(settings, secrets, CALLBACK);
  });
  afterAll(() => upstream?.close());

  const newChecks = (): UpstreamChecks => ({
    state: randomBytes(12).toString('base64url'),
    nonce: randomBytes(12).toString('base64url'),
    codeVerifier: randomBytes(32).toString('base64url'),
  });
  /** Sends the browser to the provider, signs in there, and returns where it comes back to. */
  async function signIn(checks: UpstreamChecks, via = connection): Promise<URL> {
    return upstreamLoginHeadless(await via.authorizeUrl(checks), 'user-42');
  }

  it('sends an authorization request with PKCE S256, state, nonce, scopes and our callback', async () => {
    const checks = newChecks();
    const url = new URL(await connection.authorizeUrl(checks));
    expect(url.origin).toBe(upstream.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'openid profile email roles',
      state: checks.state,
      nonce: checks.nonce,
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('completes a sign-in: the subject, with ID token and userinfo claims as attributes', async () => {
    const checks = newChecks();
    const callback = await signIn(checks);
    expect(callback.origin + callback.pathname).toBe(CALLBACK);
    const verified = await connection.complete(callback, checks);
    expect(verified.subject).toBe('user-42');
    expect(verified.attributes).toMatchObject({
      sub: ['user-42'],
      name: ['Grace Hopper'],
      email: ['grace@example.com'],
      roles: ['agent', 'supervisor'],
    });
  });

  it('refuses a callback for another state, another nonce or another PKCE verifier (45020)', async () => {
    for (const wrong of ['state', 'nonce', 'codeVerifier'] as const) {
      const checks = newChecks();
      const callback = await signIn(checks);
      await expect(connection.complete(callback, { ...checks, [wrong]: newChecks()[wrong] }), wrong).rejects.toMatchObject({
        code: 45020,
        message: expect.stringMatching(/^The identity provider's OpenID Connect response was rejected: /),
      });
    }
  });

  it('spends the upstream code once: the same callback again is refused', async () => {
    const checks = newChecks();
    const callback = await signIn(checks);
    await connection.complete(callback, checks);
    await expect(connection.complete(callback, checks)).rejects.toMatchObject({ code: 45020, message: expect.stringMatching(/invalid_grant/) });
  });

  it('follows a provider that rotates its signing keys, without a restart', async () => {
    upstream.rotate([await signingKey('k2')]);
    const checks = newChecks();
    await expect(connection.complete(await signIn(checks), checks)).resolves.toMatchObject({ subject: 'user-42' });
  });

  it('refuses a client secret the provider does not know, naming the provider error', async () => {
    const wrongSecret = new OidcConnection({ ...settings, sealedClientSecret: secrets.seal('not-the-secret') }, secrets, CALLBACK);
    const checks = newChecks();
    await expect(wrongSecret.complete(await signIn(checks, wrongSecret), checks)).rejects.toMatchObject({
      code: 45020,
      message: expect.stringMatching(/invalid_client/),
    });
  });

  it('names the issuer when discovery fails (70251 at sign-in, 400 when saving the connection)', async () => {
    const nowhere = 'http://127.0.0.1:9/unreachable';
    const broken = new OidcConnection({ ...settings, issuer: nowhere }, secrets, CALLBACK);
    await expect(broken.authorizeUrl(newChecks())).rejects.toMatchObject({ code: 70251, message: expect.stringContaining(nowhere) });
    await expect(discoverProvider(nowhere)).rejects.toMatchObject({ code: 20001, message: expect.stringContaining(nowhere) });
    await expect(discoverProvider(upstream.issuer)).resolves.toBeUndefined();
  });

  it('names the issuer a provider calls itself when it is not the one given, and suggests it', async () => {
    const other: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: 'https://login.example.test/realms/agents' }));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(other.address() as AddressInfo).port}/realms/agents`;
    try {
      const error = (await discoverProvider(issuer).catch((e: unknown) => e)) as Error;
      expect(error.message).toBe(
        `The OpenID Connect provider ${issuer} could not be discovered: ${issuer}/.well-known/openid-configuration describes the provider ` +
          `https://login.example.test/realms/agents, not ${issuer}. If that is your provider, give its issuer as it calls itself: ` +
          '--issuer https://login.example.test/realms/agents (API: "issuer").',
      );
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("bounds what a failed discovery echoes of the provider's answer (content type, status text) to one line of 300 characters", async () => {
    // A provider that answers discovery with a huge content type, or a huge status text: both are the provider's to write,
    // and the message reaches the admin API, the audit log and (at sign-in) the desktop's error_description.
    const noise = `text/html\t${'x'.repeat(6000)}`;
    const broken: Server = createServer((request, response) => {
      if (request.url?.startsWith('/ok-status')) response.writeHead(200, { 'content-type': noise }).end('<html></html>');
      else response.writeHead(503, `Unavailable\t${'y'.repeat(6000)}`).end();
    });
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
    try {
      for (const issuer of [`${base}/ok-status`, `${base}/down`]) {
        const error = (await discoverProvider(issuer).catch((e: unknown) => e)) as Error;
        expect(error.message).toContain(`${issuer}/.well-known/openid-configuration`);
        expect(error.message).not.toMatch(/\p{Cc}/u);
        expect(error.message.length).toBeLessThan(600);
      }
    } finally {
      await new Promise((resolve) => broken.close(resolve));
    }
  });
});
