import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, expectBadInput } from '../support/cli.ts';

/** The CLI for connections' mapping, OpenID Connect providers and user lifecycle. */
describe('lanyard CLI: mapping, OIDC providers, users', () => {
  const { dir, lanyard, json, cleanup } = cliSandbox();
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
  afterAll(cleanup);

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
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Sign-in would fail: .*"roles".*45050/);
    expectBadInput(await lanyard('mapping', 'set', connectionSid, '--role-value', 'no-equals-sign'), /idpValue=role/);
  });

  it('lists users and refuses malformed user SIDs', async () => {
    expect(await json('users', 'list', accountSid)).toEqual({ users: [] });
    expectBadInput(await lanyard('users', 'disable', 'FUnope'), /user SID/);
  });
});
