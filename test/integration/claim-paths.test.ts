import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { authorize, DESKTOP_URL, exchangeCode, pkcePair } from '../support/flows.ts';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../support/oidc-upstream.ts';

/**
 * Nested claims (Keycloak's realm_access.roles, resource_access.<client>.roles) in mappings and
 * the dry run, and Entra ID's group overage named as the cause of missing roles (issue 14).
 */
describe.each(BACKENDS)('claim paths and group overage on %s', (backend) => {
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let connectionSid: string;
  let adminKey: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
    upstream = await startUpstreamProvider({
      users: [
        {
          sub: 'kim',
          name: 'Kim Keycloak',
          email: 'kim@example.com',
          extra: { realm_access: { roles: ['offline_access', 'cc-agent'] }, resource_access: { 'flex-desktop': { roles: ['cc-supervisor'] } } },
        },
      ],
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard',
      clientSecret: 'secret',
      keys: [await signingKey('k1')],
    });
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Keycloak');
    const connection = await accounts.setOidc(
      account.sid,
      { issuer: upstream.issuer, clientId: 'lanyard', clientSecret: 'secret', scopes: 'openid profile email roles' },
      (settings) => discoverProvider(settings.issuer),
    );
    connectionSid = connection.sid;
    await accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(account.sid, DESKTOP_URL);
    adminKey = (await lanyard.services.adminKeys.create('claim paths')).secret;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await upstream?.close();
  });

  const admin = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { ok?: boolean; profile?: { roles: string[] }; error?: { message: string } } };
  };

  it('maps roles from realm_access.roles and resource_access.<client>.roles at sign-in', async () => {
    const mapped = await admin('PUT', `/connections/${connectionSid}/mapping`, {
      roles: ['realm_access.roles', 'resource_access.flex-desktop.roles'],
      role_values: { 'cc-agent': 'agent', 'cc-supervisor': 'supervisor' },
    });
    expect(mapped.status).toBe(200);
    const { verifier, challenge } = pkcePair();
    const start = await authorize(lanyard, {
      ssoProfileSid: connectionSid,
      redirectUrl: DESKTOP_URL,
      state: 's',
      nonce: 'n',
      codeChallenge: challenge,
    });
    const callback = await upstreamLoginHeadless(start.headers.get('location')!, 'kim');
    const desktop = new URL((await fetch(callback, { redirect: 'manual' })).headers.get('location')!);
    expect(desktop.searchParams.get('error_description')).toBeNull();
    const tokens = await exchangeCode(lanyard, connectionSid, {
      code: desktop.searchParams.get('code')!,
      verifier,
      nonce: 'n',
      state: 's',
      callback: desktop,
    });
    expect((tokens.body.token_info as { roles: string[] }).roles.sort()).toEqual(['agent', 'supervisor']);
  });

  it('dry-runs nested claims as the provider sends them', async () => {
    const dry = await admin('POST', `/connections/${connectionSid}/mapping/dry-run`, {
      name_id: 'kim',
      attributes: {
        name: 'Kim',
        email: 'kim@example.com',
        realm_access: { roles: ['cc-agent'] },
        resource_access: { 'flex-desktop': { roles: ['cc-supervisor'] } },
      },
    });
    expect(dry.status).toBe(200);
    expect(dry.body.ok).toBe(true);
    expect(dry.body.profile!.roles.sort()).toEqual(['agent', 'supervisor']);
  });

  it('names Entra ID group overage (SAML groups.link, OIDC _claim_names) as the cause of missing roles, with the fix', async () => {
    await admin('PUT', `/connections/${connectionSid}/mapping`, {
      roles: ['groups', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
    });
    for (const overage of [
      { 'http://schemas.microsoft.com/claims/groups.link': 'https://graph.windows.net/tenant/users/u1/getMemberObjects' },
      { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/u1/getMemberObjects' } } },
    ]) {
      const dry = await admin('POST', `/connections/${connectionSid}/mapping/dry-run`, {
        name_id: 'kim',
        attributes: { name: 'Kim', email: 'k@x.org', ...overage },
      });
      expect(dry.body.ok).toBe(false);
      expect(dry.body.error!.message).toMatch(/Entra ID left the groups out.*app roles.*Groups assigned to the application/);
    }
    // The control: without the overage link, the plain missing-attribute message.
    const plain = await admin('POST', `/connections/${connectionSid}/mapping/dry-run`, {
      name_id: 'kim',
      attributes: { name: 'Kim', email: 'k@x.org' },
    });
    expect(plain.body.error!.message).not.toMatch(/Entra ID/);
    expect(plain.body.error!.message).toMatch(/roles/);
  });
});
