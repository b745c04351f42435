import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { cliSandbox, expectBadInput, expectNotFound } from '../support/cli.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { AuditLog } from '../../packages/server/src/audit/audit-log.ts';
import { openStorage } from '../../packages/server/src/storage/open.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked by value
type Body = Record<string, any>;

/** Client registration through the admin API (with its audit trail) and the CLI. */
describe.each(BACKENDS)('OpenID Connect clients in the admin API on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let key: string;
  let accountSid: string;
  let connection: { sid: string; clientId: string };

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Body };
  }
  const token = (clientId: string, secret: string) =>
    fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${clientId}:${secret}`)}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'lrt_unknown' }),
    });

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend);
    key = (await lanyard.services.adminKeys.create('clients test')).secret;
    const setup = await setupAccount(lanyard, idp);
    accountSid = setup.account.sid;
    connection = setup.connection;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it('registers a confidential client, shows its secret once, rotates it without downtime and audits each change', async () => {
    const created = await api('POST', `/accounts/${accountSid}/clients`, { name: 'Portal', redirect_uris: ['https://portal.example.com/cb'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      client_id: expect.stringMatching(/^lc_/),
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      client_secret: expect.stringMatching(/^lcs_/),
    });
    const { client_id: clientId, client_secret: first } = created.body;
    const shown = await api('GET', `/clients/${clientId}`);
    expect(shown.body.client_secret).toBeUndefined();
    expect(JSON.stringify(shown.body)).not.toContain(first);
    // A wrong secret is invalid_client; the right one reaches the grant (invalid_grant for a made-up token).
    expect((await token(clientId, 'lcs_wrong')).status).toBe(401);
    expect((await token(clientId, first)).status).toBe(400);

    const rotated = await api('POST', `/clients/${clientId}/secrets`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.secrets).toHaveLength(2);
    expect(rotated.body.secrets[1].expires_at).not.toBeNull();
    const second = rotated.body.client_secret;
    expect((await token(clientId, first)).status).toBe(400);
    expect((await token(clientId, second)).status).toBe(400);
    const revoked = await api('DELETE', `/clients/${clientId}/secrets/${rotated.body.secrets[1].id}`);
    expect(revoked.body.secrets).toHaveLength(1);
    expect((await token(clientId, first)).status).toBe(401);
    expect((await token(clientId, second)).status).toBe(400);
    const last = await api('DELETE', `/clients/${clientId}/secrets/${rotated.body.secret_id}`);
    expect(last.status).toBe(409);
    // Rotated, then the new secret revoked (it leaked) before deployments had it: the next rotation
    // keeps the secret they still use, rolling over to its own end, not cut off at once.
    const leaked = await api('POST', `/clients/${clientId}/secrets`);
    const secondEnds = leaked.body.secrets[1].expires_at;
    await api('DELETE', `/clients/${clientId}/secrets/${leaked.body.secret_id}`);
    expect((await token(clientId, leaked.body.client_secret)).status).toBe(401);
    const fourth = await api('POST', `/clients/${clientId}/secrets`);
    expect(fourth.body.secrets).toHaveLength(2);
    expect(fourth.body.secrets[1].expires_at).toBe(secondEnds);
    expect((await token(clientId, second)).status).toBe(400);
    expect((await token(clientId, fourth.body.client_secret)).status).toBe(400);
    // Without a current secret, a shorter rollover asked for ends the rolling-over one sooner, and a
    // longer one never extends it.
    await api('DELETE', `/clients/${clientId}/secrets/${fourth.body.secret_id}`);
    const fifth = await api('POST', `/clients/${clientId}/secrets`, { rollover_seconds: 60 });
    const shortened = Date.parse(fifth.body.secrets[1].expires_at);
    expect(shortened - Date.now()).toBeLessThanOrEqual(60_000);
    expect(fifth.body.secrets[1].id).toBe(leaked.body.secrets[1].id);
    await api('DELETE', `/clients/${clientId}/secrets/${fifth.body.secret_id}`);
    const sixth = await api('POST', `/clients/${clientId}/secrets`, { rollover_seconds: 3600 });
    expect(Date.parse(sixth.body.secrets[1].expires_at)).toBe(shortened);
    expect((await token(clientId, second)).status).toBe(400);

    const updated = await api('PATCH', `/clients/${clientId}`, {
      redirect_uris: ['https://portal.example.com/cb', 'https://portal.example.com/cb2'],
      id_token_signed_response_alg: 'ES256',
    });
    expect(updated.body).toMatchObject({
      redirect_uris: ['https://portal.example.com/cb', 'https://portal.example.com/cb2'],
      id_token_signed_response_alg: 'ES256',
    });
    expect((await api('GET', `/accounts/${accountSid}/clients`)).body.clients.map((c: Body) => c.client_id)).toContain(clientId);
    const audit = await api('GET', `/accounts/${accountSid}/audit`);
    const changes = audit.body.events.map((e: Body) => e.reason).join('\n');
    expect(changes).toMatch(/registered OpenID Connect client lc_/);
    expect(changes).toMatch(/rotated the secret of client/);
    expect(changes).not.toContain(first);
    expect(changes).not.toContain(second);

    expect((await api('DELETE', `/clients/${clientId}`)).body).toEqual({ client_id: clientId, deleted: true });
    expect((await token(clientId, second)).status).toBe(401);
    expect((await api('GET', `/clients/${clientId}`)).status).toBe(404);
  });

  it("sets the redirect URIs of a connection's built-in client at its client endpoint, the same list as the connection's", async () => {
    const shown = await api('GET', `/clients/${connection.clientId}`);
    expect(shown.body).toMatchObject({ client_id: connection.clientId, connection_sid: connection.sid, token_endpoint_auth_method: 'none' });
    const set = await api('PATCH', `/clients/${connection.clientId}`, { redirect_uris: ['https://desk.example.com/oidc'] });
    expect(set.status).toBe(200);
    expect(set.body.redirect_uris).toEqual(['https://desk.example.com/oidc']);
    expect((await lanyard.services.accounts.getConnection(connection.sid)).redirectUris).toEqual(['https://desk.example.com/oidc']);
    const renamed = await api('PATCH', `/clients/${connection.clientId}`, { name: 'Desk' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.message).toMatch(/built-in client .* only redirect_uris can change \(not name\)/);
    // Not a client that can be deleted or given a secret.
    expect((await api('DELETE', `/clients/${connection.clientId}`)).status).toBe(404);
    const audit = await api('GET', `/accounts/${accountSid}/audit`);
    expect(audit.body.events.map((e: Body) => e.reason).join('\n')).toMatch(/set the redirect URIs of the built-in OpenID Connect client/);
  });

  it('refuses bad registrations with a 400 naming the rule', async () => {
    const bad = async (body: Body, message: RegExp) => {
      const response = await api('POST', `/accounts/${accountSid}/clients`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.message).toMatch(message);
    };
    await bad({ redirect_uris: ['http://portal.example.com/cb'] }, /must use https/);
    await bad({ redirect_uris: ['https://portal.example.com/cb#x'] }, /fragment/);
    await bad({ redirect_uris: ['com.example.app:/cb'] }, /native apps, which are public clients/);
    await bad({ redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' }, /jwks/);
    await bad({ redirect_uris: ['https://a.example/cb'], jwks: { keys: [{ kty: 'EC' }] } }, /only for token_endpoint_auth_method private_key_jwt/);
    await bad(
      { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
      /RSA, EC or OKP/,
    );
    await bad({ redirect_uris: [] }, /redirect_uris/);
    await bad({ redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'client_secret_jwt' }, /token_endpoint_auth_method/);
  });
});

describe('lanyard clients (CLI)', () => {
  const { dir, env, lanyard, json, cleanup } = cliSandbox();
  afterAll(cleanup);

  it('registers, lists, rotates and deletes a client; the secret is printed once', async () => {
    const account = await json('accounts', 'create', '--name', 'CLI clients');
    expectBadInput(await lanyard('clients', 'register', account.sid, '--redirect-uri', 'https://app.example.com/cb'), /no connection yet/);
    const certFile = join(dir, 'idp.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=t', '-days', '3', '-keyout', join(dir, 'k.pem'), '-out', certFile],
      {
        stdio: 'ignore',
      },
    );
    const connection = await json(
      'sso',
      'set',
      account.sid,
      '--issuer',
      'https://idp.example.com',
      '--sso-url',
      'https://idp.example.com/sso',
      '--cert',
      certFile,
    );

    // The connection's built-in client: its redirect URIs through the same command, nothing else.
    const builtInId = String(connection.client_id);
    const builtIn = await lanyard(
      'clients',
      'update',
      builtInId,
      '--redirect-uri',
      'https://desk.example.com/cb',
      '--redirect-uri',
      'http://127.0.0.1:8080/cb',
    );
    expect(builtIn.code, builtIn.stderr).toBe(0);
    expect(builtIn.stdout).toMatch(/redirect URI: https:\/\/desk\.example\.com\/cb/);
    expect((await json('clients', 'show', builtInId)).redirect_uris).toEqual(['https://desk.example.com/cb', 'http://127.0.0.1:8080/cb']);
    expectBadInput(
      await lanyard('clients', 'update', builtInId, '--name', 'Desk'),
      /built-in client of connection .*only redirect_uris can change \(not name\)/,
    );
    expectBadInput(await lanyard('clients', 'update', builtInId, '--redirect-uri', 'http://desk.example.com/cb'), /must use https/);

    const text = await lanyard(
      'clients',
      'register',
      account.sid,
      '--name',
      'Wallboard',
      '--redirect-uri',
      'https://wall.example.com/cb',
      '--redirect-uri',
      'https://wall.example.com/cb2',
    );
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/client_secret: lcs_/);
    expect(text.stdout).toMatch(/shown only this once/);
    const clientId = /^(lc_\S+)/.exec(text.stdout)![1]!;
    const listed = await json('clients', 'list', account.sid);
    expect(listed.clients).toEqual([
      expect.objectContaining({ client_id: clientId, redirect_uris: ['https://wall.example.com/cb', 'https://wall.example.com/cb2'] }),
    ]);
    expect(JSON.stringify(listed)).not.toMatch(/lcs_/);

    const rotated = await json('clients', 'rotate-secret', clientId, '--rollover', '60');
    expect(rotated.client_secret).toMatch(/^lcs_/);
    expect(rotated.secrets).toHaveLength(2);
    expectBadInput(await lanyard('clients', 'rotate-secret', clientId, '--rollover', 'soon'), /rollover_seconds/);
    const native = await json('clients', 'register', account.sid, '--auth-method', 'none', '--redirect-uri', 'com.example.wall:/cb');
    expect(native).toMatchObject({ token_endpoint_auth_method: 'none', secrets: [] });
    expect(native.client_secret).toBeUndefined();
    expectBadInput(await lanyard('clients', 'update', native.client_id, '--redirect-uri', 'http://wall.example.com/cb'), /must use https/);
    expect((await json('clients', 'delete', clientId)).deleted).toBe(true);
    expectNotFound(await lanyard('clients', 'show', clientId), /was not found/);
    // Audited under the operating-system user, as every other CLI change (not $USER: unset here).
    const storage = await openStorage(env.LANYARD_DATABASE_URL!);
    try {
      const reasons = (await new AuditLog(storage).recent(account.sid)).map((e) => e.reason ?? '');
      const clientChanges = reasons.filter((r) => /client/.test(r));
      expect(clientChanges.length).toBeGreaterThanOrEqual(3);
      for (const reason of clientChanges) expect(reason).toMatch(new RegExp(`^cli \\(${userInfo().username}\\): `));
    } finally {
      await storage.close();
    }
  }, 120_000);
});
