import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import type { Account, Connection } from '../../packages/server/src/admin/responses.ts';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { cliSandbox } from '../support/cli.ts';
import { DESKTOP_URL } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { signingKey, startUpstreamProvider } from '../support/oidc-upstream.ts';

const PUBLIC_URL = 'https://sso.example.com';

/**
 * What the admin API and `lanyard status` say of an account whose IdP is an OpenID Connect
 * provider (oidc-provider, a real OP, answers discovery): ready when it is, with the provider's
 * issuer, client, scopes, whether a secret is stored and the redirect URI to register there.
 */
describe('an OpenID Connect account in the admin API and lanyard status', () => {
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let adminKey: string;
  const cli = cliSandbox();

  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    upstream = await startUpstreamProvider({
      users: [],
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard',
      clientSecret: 'upstream-secret',
      keys: [await signingKey('status-key')],
    });
    adminKey = (await lanyard.services.adminKeys.create('oidc status test')).secret;
    cli.env.LANYARD_PUBLIC_URL = PUBLIC_URL;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await upstream?.close();
    cli.cleanup();
  });

  const api = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    expect(response.status, `${method} ${path}`).toBeLessThan(300);
    return (await response.json()) as T;
  };

  it('counts the provider as the IdP: enhanced SSO ready, the lookup active, legacy SSO explained without the SAML command as the fix', async () => {
    const { accounts } = lanyard.services;
    const accountSid = (await accounts.createAccount('OIDC ready')).account.sid;
    const before = await api<Account>('GET', `/accounts/${accountSid}`);
    expect(before.setup.enhanced.missing[0]).toMatch(
      /^no IdP connection \(lanyard sso set for a SAML IdP, or lanyard sso set-oidc for an OpenID Connect provider\)$/,
    );

    const connection = await api<Connection>('PUT', `/accounts/${accountSid}/oidc`, {
      issuer: upstream.issuer,
      client_id: 'lanyard',
      client_secret: 'upstream-secret',
      scopes: 'openid profile email roles',
    });
    await accounts.addTrustedUrl(accountSid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(accountSid, DESKTOP_URL);

    const account = await api<Account>('GET', `/accounts/${accountSid}`);
    expect(account.setup.enhanced).toEqual({ ready: true, missing: [] });
    expect(account.setup.legacy.ready).toBe(false);
    expect(account.setup.legacy.missing.join('\n')).toMatch(/legacy SSO speaks SAML only.*OpenID Connect provider.*would replace it/);
    expect(account.setup.legacy.missing.join('\n')).not.toMatch(/no IdP connection/);
    const lookup = (await (await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${accountSid}`)).json()) as {
      config_list: { connection_name: string; active: boolean }[];
    };
    expect(lookup.config_list).toEqual([expect.objectContaining({ connection_name: connection.sid, active: true })]);

    // The connection as PUT answered it and as GET shows it: the provider's settings, never the secret.
    for (const shown of [connection, account.connections[0]!]) {
      expect(shown).toMatchObject({
        protocol: 'oidc',
        issuer: upstream.issuer,
        sso_url: null,
        certificates: [],
        oidc: {
          issuer: upstream.issuer,
          upstream_client_id: 'lanyard',
          scopes: 'openid profile email roles',
          client_secret_stored: true,
          redirect_uri: `${lanyard.url}/login/oidc/callback`,
        },
      });
      expect(shown.client_id).not.toBe('lanyard'); // Lanyard's own client, not the provider's
      expect(JSON.stringify(shown)).not.toContain('upstream-secret');
    }
  });

  it('shows a public client (no secret) as such, and a SAML connection with no oidc summary', async () => {
    const { accounts } = lanyard.services;
    const publicSid = (await accounts.createAccount('OIDC public client')).account.sid;
    await accounts.setOidc(publicSid, { issuer: upstream.issuer, clientId: 'lanyard-public' }, (settings) => discoverProvider(settings.issuer));
    const [shown] = (await api<Account>('GET', `/accounts/${publicSid}`)).connections;
    expect(shown!.oidc).toMatchObject({ upstream_client_id: 'lanyard-public', client_secret_stored: false });
    // `lanyard sso set` (PUT /sso) replaces the provider, as the legacy readiness item says: SAML from then on.
    const { certificatePem } = await generateSigningCredentials('Replacing IdP', 30);
    const replaced = await api<Connection>('PUT', `/accounts/${publicSid}/sso`, {
      issuer: 'https://saml-idp.example.com',
      sso_url: 'https://saml-idp.example.com/sso',
      certificate: certificatePem,
    });
    expect(replaced).toMatchObject({ sid: shown!.sid, protocol: 'saml', issuer: 'https://saml-idp.example.com', oidc: null });
    expect((await lanyard.services.accounts.getConnection(shown!.sid)).oidc).toBeNull();

    const samlSid = (await accounts.createAccount('SAML')).account.sid;
    await accounts.ensureConnection(samlSid);
    const [bare] = (await api<Account>('GET', `/accounts/${samlSid}`)).connections;
    expect(bare).toMatchObject({ protocol: 'saml', issuer: null, oidc: null });
  });

  it('lanyard accounts create names both commands; status prints the provider and the redirect URI to register', async () => {
    const created = await cli.lanyard('accounts', 'create', '--name', 'CLI OIDC');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/lanyard sso set AC[0-9a-f]{32} --metadata-url .*\(a SAML IdP; or --metadata <file>\)/);
    expect(created.stdout).toMatch(/lanyard sso set AC[0-9a-f]{32} --issuer .*\(a SAML IdP without metadata\)/);
    expect(created.stdout).toMatch(/lanyard sso set-oidc AC[0-9a-f]{32} --issuer .*\(an OpenID Connect provider\)/);
    const accountSid = /Created account (AC[0-9a-f]{32})/.exec(created.stdout)![1]!;

    const secretFile = join(cli.dir, 'secret');
    writeFileSync(secretFile, 'cli-upstream-secret\n');
    const set = await cli.lanyard(
      'sso',
      'set-oidc',
      accountSid,
      '--issuer',
      upstream.issuer,
      '--client-id',
      'lanyard-cli',
      '--client-secret-file',
      secretFile,
    );
    expect(set.code, set.stderr).toBe(0);
    await cli.json('trusted-urls', 'add', accountSid, DESKTOP_URL);
    await cli.json('redirect-url', 'set', accountSid, DESKTOP_URL);

    const status = await cli.lanyard('status', accountSid);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/OpenID Connect/);
    expect(status.stdout).toMatch(new RegExp(`IdP issuer\\s+${upstream.issuer.replace(/\./g, '\\.')}`));
    expect(status.stdout).toMatch(/client ID at the IdP\s+lanyard-cli/);
    expect(status.stdout).toMatch(/scopes\s+openid profile email/);
    expect(status.stdout).toMatch(/client secret\s+stored \(encrypted\)/);
    expect(status.stdout).toContain(`${PUBLIC_URL}/login/oidc/callback  (register it at the provider)`);
    expect(status.stdout).toMatch(/Enhanced SSO: ready/);
    expect(status.stdout).not.toMatch(/IdP issuer\s+\(none\)|no IdP connection|SP ACS URL/);
    expect(status.stdout).not.toContain('cli-upstream-secret');

    const json = (await cli.json('status', accountSid)) as Account;
    expect(json.setup.enhanced.ready).toBe(true);
    expect(json.connections[0]).toMatchObject({
      issuer: upstream.issuer,
      oidc: { upstream_client_id: 'lanyard-cli', client_secret_stored: true, redirect_uri: `${PUBLIC_URL}/login/oidc/callback` },
    });
  });
});
