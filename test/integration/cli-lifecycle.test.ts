import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, expectBadInput } from '../support/cli.ts';
import { loadConfig } from '../../packages/server/src/config.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { createServices } from '../../packages/server/src/services.ts';
import { signingKey, startUpstreamProvider } from '../support/oidc-upstream.ts';

/** The CLI for connections' mapping, OpenID Connect providers and user lifecycle. */
describe('lanyard CLI: mapping, OIDC providers, users', () => {
  const { dir, env, lanyard, json, cleanup } = cliSandbox();
  let accountSid: string;
  let connectionSid: string;

  beforeAll(async () => {
    accountSid = (await json('accounts', 'create', '--name', 'Lifecycle')).sid;
    const cert = join(dir, 'idp.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=idp', '-days', '30', '-keyout', join(dir, 'idp.key'), '-out', cert],
      { stdio: 'ignore' },
    );
    connectionSid = (
      await json('sso', 'set', accountSid, '--issuer', 'https://idp.example.com', '--sso-url', 'https://idp.example.com/sso', '--cert', cert)
    ).sid;
  });
  afterAll(async () => {
    await upstream?.close();
    cleanup();
  });
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>> | undefined;
  let oidcAccount: string;
  let oidcConnection: string;

  it('refuses an OpenID Connect provider that does not answer discovery, and never takes the secret as an argument', async () => {
    expectBadInput(await lanyard('sso', 'set-oidc', accountSid, '--issuer', 'http://127.0.0.1:9/', '--client-id', 'x'), /could not be discovered/);
    expectBadInput(
      await lanyard('sso', 'set-oidc', accountSid, '--issuer', 'http://127.0.0.1:9/', '--client-id', 'x', '--client-secret', 's'),
      /unknown option '--client-secret'/,
    );
  });

  it('sets a mapping and dry-runs it, explaining a missing attribute in words', async () => {
    const attributes = join(dir, 'claims.json');
    writeFileSync(attributes, JSON.stringify({ name: 'Sam', email: 'sam@example.com', groups: ['cc-supervisors'] }));
    await json('mapping', 'set', connectionSid, '--roles', 'roles,groups', '--role-value', 'cc-supervisors=supervisor');
    expect(await json('mapping', 'show', connectionSid)).toMatchObject({
      roles: ['roles', 'groups'],
      role_values: { 'cc-supervisors': 'supervisor' },
    });
    const shown = await lanyard('mapping', 'show', connectionSid);
    expect(shown.stdout).toMatch(/roles\s+roles, groups/);
    expect(shown.stdout).toMatch(/role values\s+cc-supervisors=supervisor/);
    expectBadInput(await lanyard('mapping', 'show', 'JQnope'), /connection/i);
    const ok = await json('mapping', 'dry-run', connectionSid, '--name-id', 'sam@example.com', '--attributes', attributes);
    expect(ok).toMatchObject({ ok: true, profile: { identity: 'sam_40example_2Ecom', roles: ['supervisor'] } });
    writeFileSync(attributes, JSON.stringify({ name: 'Sam', email: 'sam@example.com' }));
    const text = await lanyard('mapping', 'dry-run', connectionSid, '--name-id', 'sam@example.com', '--attributes', attributes);
    // A sign-in that would fail is a negative verdict: exit 1, as `token verify` for an invalid token.
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/Sign-in would fail: .*"roles".*45050/);
    expect(text.stdout).toMatch(/roles looked for\s+"roles", "groups"/);
    expect(text.stdout).toMatch(/received\s+"name", "email"/);
    // Role values neither recognised nor mapped are named in the human output too.
    writeFileSync(attributes, JSON.stringify({ name: 'Sam', email: 'sam@example.com', groups: ['cc-supervisors', 'wfm-planners'] }));
    const dropped = await lanyard('mapping', 'dry-run', connectionSid, '--name-id', 'sam@example.com', '--attributes', attributes);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toMatch(/dropped roles\s+"wfm-planners" \(not recognised, not mapped\)/);
    // A SAML connection needs the NameID.
    expectBadInput(
      await lanyard('mapping', 'dry-run', connectionSid, '--attributes', attributes),
      /name_id \(--name-id\) is required for a SAML connection/,
    );
    expectBadInput(await lanyard('mapping', 'set', connectionSid, '--role-value', 'no-equals-sign'), /idpValue=role/);
  });

  it('lists users and refuses malformed user SIDs', async () => {
    expect(await json('users', 'list', accountSid)).toEqual({ users: [] });
    expectBadInput(await lanyard('users', 'disable', 'FUnope'), /user SID/);
    // A name as an IdP may send it: escape sequences and a carriage return reach no terminal raw.
    const services = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    try {
      const name = 'Eve\r  roles supervisor\u001b]0;owned\u0007';
      await services.users.provision(accountSid, {
        uniqueId: 'eve@example.com',
        fullName: name,
        email: 'eve@example.com',
        roles: ['agent'],
        imageUrl: null,
        attributes: {},
      });
    } finally {
      await services.storage.close();
    }
    const listed = await lanyard('users', 'list', accountSid);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('Eve\\x0d  roles supervisor\\x1b]0;owned\\x07');
    expect([...listed.stdout].filter((c) => c === '\r' || c === '\u001b' || c === '\u0007')).toEqual([]);
  });

  it('keeps the client secret on a re-run of set-oidc, refuses a new client without one, and records what changed', async () => {
    upstream = await startUpstreamProvider({
      users: [],
      redirectUri: 'http://127.0.0.1:1/login/oidc/callback',
      clientId: 'lanyard',
      clientSecret: 'cli-secret',
      keys: [await signingKey('cli-key')],
    });
    oidcAccount = (await json('accounts', 'create', '--name', 'OIDC via CLI')).sid as string;
    const secretFile = join(dir, 'client-secret');
    writeFileSync(secretFile, 'cli-secret\n');
    const setOidc = (...extra: string[]) => lanyard('sso', 'set-oidc', oidcAccount, '--issuer', upstream!.issuer, ...extra);

    const first = await setOidc('--client-id', 'lanyard', '--client-secret-file', secretFile, '--scopes', 'openid profile email roles');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Client secret: stored (encrypted).');
    oidcConnection = /Connection (JQ\w+)/.exec(first.stdout)![1]!;
    expect(first.stdout).toContain('Scopes: openid profile email roles\n');
    // Re-run with a trailing slash and no scopes: the confirmation shows the issuer as stored and the scopes kept.
    const rerun = await lanyard('sso', 'set-oidc', oidcAccount, '--issuer', `${upstream.issuer}/`, '--client-id', 'lanyard');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('Client secret: kept');
    expect(rerun.stdout).toContain(`signs in through ${upstream.issuer} (client ID lanyard).\nScopes: openid profile email roles\n`);

    const services = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    try {
      const connection = (await services.accounts.connectionsOf(oidcAccount))[0]!;
      expect(connection.oidc).toMatchObject({
        clientId: 'lanyard',
        scopes: 'openid profile email roles',
        sealedClientSecret: expect.stringMatching(/^v1\./),
      });
      expect(services.secrets.open(connection.oidc!.sealedClientSecret!)).toBe('cli-secret');
    } finally {
      await services.storage.close();
    }

    expectBadInput(await setOidc('--client-id', 'another-client'), /client ID changed.*--client-secret-file.*--public-client/);
    // A typo in the issuer is refused before discovery, naming both values.
    const typo = await lanyard('sso', 'set-oidc', oidcAccount, '--issuer', 'http://127.0.0.1:9/tpyo', '--client-id', 'lanyard');
    expectBadInput(typo, /The issuer changed .*correct --issuer;/);
    expect(typo.stderr).toContain(`the stored issuer is ${upstream.issuer}, you gave http://127.0.0.1:9/tpyo`);
    expectBadInput(
      await setOidc('--client-id', 'lanyard', '--scopes', 'openid,profile,email'),
      /separated by spaces, not commas.*--scopes "openid profile email"/,
    );
    expectBadInput(await setOidc('--client-id', 'lanyard', '--public-client', '--client-secret-file', secretFile), /not both/);
    expectBadInput(
      await setOidc('--client-id', 'lanyard', '--scopes', 'profile email'),
      /must contain "openid" \(OpenID Connect Core §3\.1\.2\.1.*--scopes "openid profile email"/,
    );
    const made = await setOidc('--client-id', 'lanyard', '--public-client');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('Client secret: REMOVED');

    // A secret left in the shell's environment: --public-client wins over it, and a secret taken
    // from it says where it came from.
    env.LANYARD_OIDC_CLIENT_SECRET = 'cli-secret';
    try {
      const stillPublic = await setOidc('--client-id', 'lanyard', '--public-client');
      expect(stillPublic.code, stillPublic.stderr).toBe(0);
      const fromEnv = await setOidc('--client-id', 'lanyard');
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
      expect(fromEnv.stdout).toMatch(
        /Client secret: stored \(encrypted\)\.\nThe secret came from LANYARD_OIDC_CLIENT_SECRET; if it belongs to another client, unset it/,
      );
    } finally {
      delete env.LANYARD_OIDC_CLIENT_SECRET;
    }
    expect((await setOidc('--client-id', 'lanyard')).stdout).toContain('Client secret: kept');

    const audit = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    try {
      const reasons = (await audit.audit.recent(oidcAccount, 20)).map((e) => e.reason ?? '');
      expect(reasons).toContainEqual(expect.stringMatching(/client ID lanyard, scopes "openid profile email roles", client secret stored \(new\)/));
      expect(reasons).toContainEqual(expect.stringMatching(/client secret kept \(unchanged\)/));
      expect(reasons).toContainEqual(expect.stringMatching(/client secret removed \(now a public client\)/));
      expect(reasons.join('\n')).not.toContain('cli-secret');
    } finally {
      await audit.storage.close();
    }
    const help = await lanyard('sso', 'set-oidc', '--help');
    expect(help.stdout).toMatch(/--public-client/);
    expect(help.stdout).toMatch(/keeps the stored secret/);
    // Fourteen CLI processes one after another: over 30 s on a loaded 2-core runner (CI lost it so).
  }, 90_000);

  it('refuses an empty --client-secret-file rather than keeping (or dropping) the stored secret in silence', async () => {
    // A secret file emptied by a failed export (`vault read … > file`) is a mistake, not "keep the stored one".
    const empty = join(dir, 'empty-secret');
    writeFileSync(empty, '\n');
    expectBadInput(
      await lanyard('sso', 'set-oidc', oidcAccount, '--issuer', upstream!.issuer, '--client-id', 'lanyard', '--client-secret-file', empty),
      /client secret file ".*empty-secret" is empty/,
    );
  });

  it('dry-runs an OpenID Connect connection without --name-id, taking sub from the claims', async () => {
    const claims = join(dir, 'oidc-claims.json');
    writeFileSync(claims, JSON.stringify({ sub: 'nora-1', name: 'Nora', email: 'nora@example.com', roles: ['agent'] }));
    expect(await json('mapping', 'dry-run', oidcConnection, '--attributes', claims)).toMatchObject({
      ok: true,
      profile: { unique_id: 'nora-1', roles: ['agent'] },
    });
    writeFileSync(claims, JSON.stringify({ sub: 'nora-1', name: 'Nora', roles: ['agent'] }));
    const failing = await lanyard('mapping', 'dry-run', oidcConnection, '--attributes', claims);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/mandatory claim "email"\. Add it to the ID token or userinfo/);
    expect(failing.stdout).toMatch(/email looked for\s+"email"/);
    expect(failing.stdout).toMatch(/received\s+"sub", "name", "roles"/);
    writeFileSync(claims, JSON.stringify({ name: 'Nora', email: 'nora@example.com', roles: ['agent'] }));
    expectBadInput(await lanyard('mapping', 'dry-run', oidcConnection, '--attributes', claims), /a "sub" claim among the claims, or name_id/);
  });

  it('switches an OpenID Connect account back to SAML with sso set, saying the provider and its secret were replaced', async () => {
    const saml = await lanyard(
      'sso',
      'set',
      oidcAccount,
      '--issuer',
      'https://idp.example.com',
      '--sso-url',
      'https://idp.example.com/sso',
      '--cert',
      join(dir, 'idp.pem'),
    );
    expect(saml.code, saml.stderr).toBe(0);
    expect(saml.stdout).toContain(`Replaced the OpenID Connect provider ${upstream!.issuer}; its client secret was removed.`);
    const audit = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    try {
      const connection = (await audit.accounts.connectionsOf(oidcAccount))[0]!;
      expect(connection).toMatchObject({ protocol: 'saml', oidc: null });
      const reasons = (await audit.audit.recent(oidcAccount, 20)).map((e) => e.reason ?? '');
      expect(reasons).toContainEqual(
        expect.stringContaining(
          `set the IdP settings of connection ${oidcConnection} (issuer https://idp.example.com), replacing the OpenID Connect provider ${upstream!.issuer} and removing its client secret`,
        ),
      );
    } finally {
      await audit.storage.close();
    }
  });
});
