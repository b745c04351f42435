import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const DESKTOP = 'https://desktop.example.com/agent';

/** A real IdP signing certificate: self-signed by openssl, valid 30 days. */
function selfSignedCertificate(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=test',
        '-days',
        '30',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      {
        stdio: 'ignore',
      },
    );
    return readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function idpMetadata(certificate: string): string {
  const body = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com/metadata">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

// Response bodies are checked by value; loose typing keeps the assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

const certificate = selfSignedCertificate();

describe.each(BACKENDS)('admin API on %s', (backend) => {
  let lanyard: TestLanyard;
  let key: string;
  let accountSid: string;

  async function api(method: string, path: string, body?: unknown, secret: string | null = key): Promise<{ status: number; body: Body }> {
    const headers: Record<string, string> = {};
    if (secret !== null) headers.authorization = `Bearer ${secret}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Body };
  }

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
    key = (await lanyard.services.adminKeys.create('integration test')).secret;
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  describe('authentication', () => {
    it('refuses a missing, malformed, unknown or revoked key with 401 and the error shape', async () => {
      const missing = await fetch(`${lanyard.url}/admin/v1/accounts`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await missing.json()).toEqual({ code: 20003, status: 401, message: expect.stringContaining('admin API key') });

      for (const wrong of ['nonsense', key.slice(0, -2) + 'xx', `Basic ${key}`]) {
        const response = await api('GET', '/accounts', undefined, wrong);
        expect(response.status, wrong).toBe(401);
        expect(response.body).toMatchObject({ code: 20003, status: 401 });
      }
      const revoked = await lanyard.services.adminKeys.create('short-lived');
      expect((await api('GET', '/accounts', undefined, revoked.secret)).status).toBe(200);
      await lanyard.services.adminKeys.revoke(revoked.key.sid);
      expect((await api('GET', '/accounts', undefined, revoked.secret)).status).toBe(401);
    });

    it('serves its OpenAPI description without a key', async () => {
      const response = await api('GET', '/openapi.json', undefined, null);
      expect(response.status).toBe(200);
      expect(response.body.openapi).toBe('3.1.0');
    });
  });

  describe('accounts', () => {
    it('refuses text no database keeps as sent (a NUL, an unpaired surrogate) with a 400 naming the field, alike on every backend', async () => {
      const before = (await api('GET', '/accounts')).body.accounts as unknown[];
      for (const [name, problem] of [
        ['Floor\u0000', 'holds a NUL character (U+0000)'],
        ['Floor \ud800', 'holds an unpaired UTF-16 surrogate (not Unicode text)'],
      ]) {
        const refused = await api('POST', '/accounts', { friendly_name: name });
        expect(refused).toEqual({
          status: 400,
          body: { code: 20001, status: 400, message: `friendly_name: ${problem}; send it without that character.` },
        });
      }
      // A member inside a list is named with its place; a key that is not one of ours is not quoted.
      const { sid } = (await api('POST', '/accounts', { friendly_name: 'Roles floor' })).body as { sid: string };
      expect((await api('PUT', `/accounts/${sid}/roles`, { roles: ['wfo.analyst', 'wfo.\u0000'] })).body.message).toBe(
        'roles[1]: holds a NUL character (U+0000); send it without that character.',
      );
      const response = await fetch(`${lanyard.url}/admin/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"<b>\\u0000</b>": 1}',
      });
      expect(await response.json()).toMatchObject({
        status: 400,
        message: 'body: has a key that holds a NUL character (U+0000); send it without that character.',
      });
      // A form body is checked as a JSON one.
      const form = await fetch(`${lanyard.url}/admin/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'friendly_name=A%00B',
      });
      expect(await form.json()).toMatchObject({
        status: 400,
        message: 'friendly_name: holds a NUL character (U+0000); send it without that character.',
      });
      before.push(sid);
      expect((await api('GET', '/accounts')).body.accounts).toHaveLength(before.length);
      // An emoji is text like any other.
      expect((await api('POST', '/accounts', { friendly_name: 'Floor \u{1F4DE}' })).status).toBe(201);
    });

    it('creates an account and shows its auth token once', async () => {
      const created = await api('POST', '/accounts', { friendly_name: 'Support floor' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        sid: expect.stringMatching(/^AC[0-9a-f]{32}$/),
        friendly_name: 'Support floor',
        sso_mode: 'enhanced',
        auth_token: expect.any(String),
      });
      accountSid = created.body.sid;
      expect(await lanyard.services.accounts.verifyAuthToken(accountSid, created.body.auth_token)).toBe(true);

      const list = await api('GET', '/accounts');
      expect(list.body.accounts).toContainEqual(expect.objectContaining({ sid: accountSid, friendly_name: 'Support floor' }));
      const shown = await api('GET', `/accounts/${accountSid}`);
      expect(shown.body.auth_token).toBeUndefined();
    });

    it("replaces an account's auth token: the new one authenticates Tokens/validate, the previous one no longer does", async () => {
      const { body: created } = await api('POST', '/accounts', { friendly_name: 'Rotated' });
      const validate = (authToken: string) =>
        fetch(`${lanyard.url}/v1/Accounts/${created.sid}/Tokens/validate`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${created.sid}:${authToken}`).toString('base64')}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: 'not-a-token' }),
        });
      expect((await validate(created.auth_token)).status).not.toBe(401);
      const rotated = await api('POST', `/accounts/${created.sid}/auth-token`);
      expect(rotated.status).toBe(200);
      expect(rotated.body).toEqual({ account_sid: created.sid, auth_token: expect.any(String) });
      expect(rotated.body.auth_token).not.toBe(created.auth_token);
      const refused = await validate(created.auth_token);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { message: string }).message).toContain('lanyard accounts rotate-auth-token');
      expect((await validate(rotated.body.auth_token)).status).not.toBe(401);
      const audit = await api('GET', `/accounts/${created.sid}/audit`);
      expect(JSON.stringify(audit.body)).toContain('replaced the auth token');
      expect(JSON.stringify(audit.body)).not.toContain(rotated.body.auth_token);
      // Another account's token is untouched; an unknown account is a 404.
      expect(await lanyard.services.accounts.verifyAuthToken(accountSid, rotated.body.auth_token)).toBe(false);
      expect((await api('POST', '/accounts/AC00000000000000000000000000000000/auth-token')).status).toBe(404);
    });

    it('reports what a new account still lacks', async () => {
      const { body } = await api('GET', `/accounts/${accountSid}`);
      expect(body.setup.enhanced).toEqual({
        ready: false,
        missing: [
          expect.stringContaining('no IdP connection'),
          expect.stringContaining('no Trusted URL'),
          expect.stringContaining('no Domain redirect URL'),
        ],
      });
      expect(body.setup.legacy.missing).toContainEqual(expect.stringContaining('legacy SSO is switched off'));
      expect(body.legacy_service_provider).toEqual({
        entity_id: `${lanyard.url}/v1/Accounts/${accountSid}/saml2/metadata`,
        acs_url: `${lanyard.url}/v1/Accounts/${accountSid}/saml2`,
        metadata_url: `${lanyard.url}/v1/Accounts/${accountSid}/saml2/metadata`,
      });
    });

    it('answers 400 with {code, message, status} for a malformed SID and 404 for an unknown one', async () => {
      for (const path of ['/accounts/AC123', '/accounts/JQ0123456789abcdef0123456789abcdef/trusted-urls', '/accounts/nope/users']) {
        const response = await api('GET', path);
        expect(response.status, path).toBe(400);
        expect(response.body).toEqual({ code: 20001, status: 400, message: expect.stringContaining('AccountSid') });
      }
      const unknown = await api('GET', `/accounts/AC${'0'.repeat(32)}`);
      expect(unknown).toMatchObject({ status: 404, body: { code: 20404, status: 404 } });
    });

    it('validates bodies and names the field', async () => {
      expect(await api('POST', '/accounts', { friendly_name: 42 })).toMatchObject({
        status: 400,
        body: { message: expect.stringContaining('friendly_name') },
      });
      const notJson = await fetch(`${lanyard.url}/admin/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{',
      });
      expect(notJson.status).toBe(400);
      expect(await api('PUT', `/accounts/${accountSid}/mode`, { mode: 'hybrid' })).toMatchObject({
        status: 400,
        body: { message: expect.stringContaining('mode') },
      });
    });
  });

  describe('SSO settings', () => {
    it('refuses a bad certificate with a 400 naming the problem', async () => {
      const response = await api('PUT', `/accounts/${accountSid}/sso`, {
        issuer: 'https://idp.example.com',
        sso_url: 'https://idp.example.com/sso',
        certificate: 'not a certificate',
      });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 20001, status: 400, message: expect.stringMatching(/certificate/i) });
      // Damage in the signature value (the certificate's last bytes): its self-signature fails.
      // (Damage to the subject name makes it read as issued by someone else, whose key is unknown.)
      const at = certificate.lastIndexOf('-----END') - 40; // inside the last base64 line: the signature
      const corrupt = certificate.slice(0, at) + (certificate[at] === 'A' ? 'B' : 'A') + certificate.slice(at + 1);
      const corruptResponse = await api('PUT', `/accounts/${accountSid}/sso`, {
        issuer: 'x',
        sso_url: 'https://idp.example.com/sso',
        certificate: corrupt,
      });
      expect(corruptResponse.body, JSON.stringify(corruptResponse.body)).toMatchObject({
        status: 400,
        message: expect.stringMatching(/certificate/i),
      });
    });

    it('refuses mixed forms and a relative SSO URL', async () => {
      const mixed = await api('PUT', `/accounts/${accountSid}/sso`, { issuer: 'x', metadata_url: 'https://idp.example.com/md' });
      expect(mixed).toMatchObject({ status: 400, body: { message: expect.stringContaining('exactly one of') } });
      const relative = await api('PUT', `/accounts/${accountSid}/sso`, { issuer: 'x', sso_url: '/sso', certificate });
      expect(relative).toMatchObject({ status: 400, body: { message: expect.stringContaining('ssoUrl') } });
    });

    it('sets the IdP from explicit fields, then from metadata, keeping one connection', async () => {
      const explicit = await api('PUT', `/accounts/${accountSid}/sso`, {
        issuer: 'https://idp.example.com',
        sso_url: 'https://idp.example.com/sso',
        certificate,
        clock_skew_seconds: 30,
      });
      expect(explicit.status).toBe(200);
      expect(explicit.body).toMatchObject({
        sid: expect.stringMatching(/^JQ/),
        issuer: 'https://idp.example.com',
        clock_skew_seconds: 30,
        certificates: [expect.objectContaining({ subject: 'CN=test', days_left: expect.any(Number) })],
        service_provider: {
          entity_id: `urn:flex:${explicit.body.sid}`,
          acs_url: `${lanyard.url}/login/callback?connection=${explicit.body.sid}`,
          metadata_url: expect.any(String),
        },
      });
      expect(explicit.body.certificates[0].days_left).toBeGreaterThanOrEqual(28);

      const imported = await api('PUT', `/accounts/${accountSid}/sso`, { metadata_xml: idpMetadata(certificate) });
      expect(imported.body).toMatchObject({ sid: explicit.body.sid, issuer: 'https://idp.example.com/metadata', clock_skew_seconds: 120 });
    });
  });

  describe('Trusted URLs, redirect URL, mode', () => {
    it('adds, lists and removes Trusted URLs', async () => {
      expect((await api('POST', `/accounts/${accountSid}/trusted-urls`, { url: DESKTOP })).body.trusted_urls).toEqual([DESKTOP]);
      expect((await api('POST', `/accounts/${accountSid}/trusted-urls`, { url: 'http://localhost:5173' })).status).toBe(200);
      expect((await api('GET', `/accounts/${accountSid}/trusted-urls`)).body.trusted_urls).toHaveLength(2);
      const removed = await api('DELETE', `/accounts/${accountSid}/trusted-urls?url=${encodeURIComponent('http://localhost:5173')}`);
      expect(removed.body).toEqual({ trusted_urls: [DESKTOP], default_redirect_url: null });
      expect((await api('DELETE', `/accounts/${accountSid}/trusted-urls?url=${encodeURIComponent('https://other.example.com')}`)).status).toBe(404);
      expect((await api('DELETE', `/accounts/${accountSid}/trusted-urls`)).status).toBe(400);
    });

    it('refuses a Trusted URL with a query string, naming the rule', async () => {
      const response = await api('POST', `/accounts/${accountSid}/trusted-urls`, { url: 'https://desktop.example.com/agent?tab=1' });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ status: 400, code: expect.any(Number), message: expect.stringMatching(/query/i) });
      const plainHttp = await api('POST', `/accounts/${accountSid}/trusted-urls`, { url: 'http://example.com' });
      expect(plainHttp).toMatchObject({ status: 400, body: { message: expect.stringMatching(/http/i) } });
    });

    it('sets the redirect URL, mode and IdP-initiated switch; the account becomes ready', async () => {
      // The Default redirect URL must lie under a Trusted URL; the refusal names the command that fixes it.
      const untrusted = await api('PUT', `/accounts/${accountSid}/redirect-url`, { url: 'https://elsewhere.example.com/desk' });
      expect(untrusted).toMatchObject({
        status: 400,
        body: { code: 70002, more_info: expect.stringContaining(`lanyard trusted-urls add ${accountSid} https://elsewhere.example.com`) },
      });
      const redirect = await api('PUT', `/accounts/${accountSid}/redirect-url`, { url: DESKTOP });
      expect(redirect.body).toMatchObject({ default_redirect_url: DESKTOP, setup: { enhanced: { ready: true, missing: [] } } });
      const both = await api('PUT', `/accounts/${accountSid}/mode`, { mode: 'both' });
      expect(both.body).toMatchObject({ sso_mode: 'both', previous_mode: 'enhanced', setup: { legacy: { ready: true } } });
      const idp = await api('PUT', `/accounts/${accountSid}/idp-initiated`, { enabled: true });
      expect(idp.body.idp_initiated_login).toBe(true);
      expect((await api('PUT', `/accounts/${accountSid}/idp-initiated`, { enabled: 'yes' })).status).toBe(400);
      // Removing the Trusted URL the Default redirect URL lies under is refused until that is changed.
      const uncovering = await api('DELETE', `/accounts/${accountSid}/trusted-urls?url=${encodeURIComponent(DESKTOP)}`);
      expect(uncovering).toMatchObject({ status: 409, body: { message: expect.stringMatching(/Default redirect URL .* needs this Trusted URL/) } });
      expect((await api('GET', `/accounts/${accountSid}/trusted-urls`)).body.trusted_urls).toEqual([DESKTOP]);
    });

    it('shows the auth config exactly as the public lookup answers it', async () => {
      const admin = await api('GET', `/accounts/${accountSid}/auth-config`);
      const lookup = await (await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${accountSid}`)).json();
      expect(admin.body).toEqual(lookup);
      expect(admin.body.config_list).toEqual([
        {
          account_sid: accountSid,
          instance_sid: expect.stringMatching(/^GO/),
          connection_name: expect.stringMatching(/^JQ/),
          client_id: expect.any(String),
          active: true,
          app_type: 'SinglePageApp',
        },
      ]);
    });

    it('records every change in the audit log, naming the admin key', async () => {
      const { body } = await api('GET', `/accounts/${accountSid}/audit?limit=100`);
      const reasons = (body.events as Array<{ type: string; reason: string }>).filter((e) => e.type === 'admin.change').map((e) => e.reason);
      expect(reasons).toContainEqual(expect.stringMatching(/integration test.*added Trusted URL https:\/\/desktop\.example\.com\/agent/));
      expect(reasons).toContainEqual(expect.stringContaining('set the SSO mode to both'));
      expect((await api('GET', `/accounts/${accountSid}/audit?limit=0`)).status).toBe(400);
    });
  });

  describe('users, sessions and tokens', () => {
    let userSid: string;
    let token: string;

    beforeAll(async () => {
      const { accounts, users, tokens } = lanyard.services;
      const connection = (await accounts.connectionsOf(accountSid))[0]!;
      const user = await users.provision(accountSid, {
        uniqueId: 'ada@example.com',
        fullName: 'Ada Lovelace',
        email: 'ada@example.com',
        roles: ['agent'],
        imageUrl: null,
        attributes: {},
      });
      userSid = user.sid;
      const issued = await tokens.issueForLegacyLogin({
        accountSid,
        connectionSid: connection.sid,
        clientId: connection.clientId,
        userSid,
        nonce: null,
        scope: null,
        authTime: Date.now(),
      });
      token = issued.accessToken;
    });

    it('lists and searches users', async () => {
      expect((await api('GET', `/accounts/${accountSid}/users`)).body.users).toEqual([
        expect.objectContaining({ sid: userSid, identity: 'ada_40example_2Ecom', disabled: false }),
      ]);
      expect((await api('GET', `/accounts/${accountSid}/users?search=LOVELACE`)).body.users).toHaveLength(1);
      expect((await api('GET', `/accounts/${accountSid}/users?search=turing`)).body.users).toEqual([]);
    });

    it('verifies a token, with claims and session state', async () => {
      const verified = await api('POST', '/tokens/verify', { token });
      expect(verified.body).toMatchObject({
        valid: true,
        code: 0,
        claims: { account_sid: accountSid, sub: userSid, identity: 'ada_40example_2Ecom', roles: ['agent'] },
        session: { active: true, surface: 'legacy' },
        user: { sid: userSid, exists: true, disabled: false },
      });
      const otherAccount = await api('POST', '/tokens/verify', { token, account_sid: `AC${'0'.repeat(32)}` });
      expect(otherAccount.body).toMatchObject({ valid: false, message: expect.stringContaining('issued for account') });
      const garbage = await api('POST', '/tokens/verify', { token: 'not.a.jwt' });
      expect(garbage.body).toMatchObject({ valid: false, claims: null, code: 20151 });
      expect((await api('POST', '/tokens/verify', { token, account_sid: 'AC1' })).status).toBe(400);
    });

    it('disables and enables a user; their token stops and resumes validating', async () => {
      const disabled = await api('POST', `/users/${userSid}/disable`);
      expect(disabled.body).toMatchObject({ sid: userSid, disabled: true });
      expect((await api('POST', '/tokens/verify', { token })).body).toMatchObject({ valid: false, user: { disabled: true } });
      expect((await api('POST', `/users/${userSid}/enable`)).body.disabled).toBe(false);
      expect((await api('POST', '/tokens/verify', { token })).body.valid).toBe(true);
      expect(await api('POST', '/users/FU123/disable')).toMatchObject({
        status: 400,
        body: { code: 20001, message: expect.stringContaining('UserSid') },
      });
      expect((await api('POST', `/users/FU${'0'.repeat(32)}/enable`)).status).toBe(404);
    });

    it('rotates signing keys; tokens signed before still verify', async () => {
      // One active key per algorithm: ES256 (access tokens) and RS256 (ID tokens by default).
      const active = (keys: Array<{ active: boolean; alg: string }>) =>
        keys
          .filter((k) => k.active)
          .map((k) => k.alg)
          .sort();
      const before = await api('GET', '/signing-keys');
      expect(active(before.body.keys)).toEqual(['ES256', 'RS256']);
      const rotated = await api('POST', '/signing-keys/rotate');
      expect(rotated.body.keys).toContainEqual(expect.objectContaining({ kid: rotated.body.kid, active: true, alg: 'ES256' }));
      expect(active(rotated.body.keys)).toEqual(['ES256', 'RS256']);
      expect(rotated.body.keys).toHaveLength(before.body.keys.length + 2);
      expect((await api('POST', '/tokens/verify', { token })).body.valid).toBe(true);
    });

    it("revokes a user's sessions, then the whole account's", async () => {
      const user = await api('POST', `/users/${userSid}/revoke-sessions`);
      expect(user.body).toEqual({ user_sid: userSid, revoked_sessions: 1 });
      expect((await api('POST', '/tokens/verify', { token })).body).toMatchObject({ valid: false, session: { active: false } });
      const account = await api('POST', `/accounts/${accountSid}/revoke-sessions`);
      expect(account.body).toEqual({ account_sid: accountSid, revoked_sessions: 0 });
      expect((await api('POST', `/accounts/AC${'0'.repeat(32)}/revoke-sessions`)).status).toBe(404);
    });
  });

  describe('connections', () => {
    it('sets exact OIDC redirect URIs and refuses unsafe ones', async () => {
      const connectionSid = (await lanyard.services.accounts.connectionsOf(accountSid))[0]!.sid;
      const set = await api('PUT', `/connections/${connectionSid}/redirect-uris`, {
        redirect_uris: ['https://app.example.com/callback', 'http://127.0.0.1/cb'],
      });
      expect(set.body.redirect_uris).toEqual(['https://app.example.com/callback', 'http://127.0.0.1/cb']);
      expect(
        (await api('PUT', `/connections/${connectionSid}/redirect-uris`, { redirect_uris: ['https://app.example.com/cb#x'] })).body.message,
      ).toMatch(/fragment/);
      expect((await api('PUT', `/connections/${connectionSid}/redirect-uris`, { redirect_uris: ['http://app.example.com/cb'] })).status).toBe(400);
      expect((await api('PUT', '/connections/JQ1/redirect-uris', { redirect_uris: [] })).body).toMatchObject({ code: 20001, status: 400 });
    });
  });
});
