import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { enhancedServiceProvider } from '../../packages/server/src/login/service-providers.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, exchangeCode, flexLogin, postForm, setupAccount } from '../support/flows.ts';

/**
 * App tiles (Okta dashboard, My Apps) on an enhanced-SSO connection: the IdP posts an
 * unsolicited response to the enhanced ACS, with no RelayState or with its own default one.
 * Lanyard issues nothing from it and sends the browser to the Default redirect URL, where the
 * desktop starts an ordinary sign-in.
 */
describe.each(BACKENDS)('app tiles at the enhanced ACS on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
    idp = await startDevIdp({ port: 0 });
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  async function tileClick(connectionSid: string, relayState?: string) {
    const sp = enhancedServiceProvider(lanyard.url, connectionSid);
    const response = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', audience: sp.entityId, acsUrl: sp.acsUrl });
    return postForm(sp.acsUrl, { SAMLResponse: response.SAMLResponse, RelayState: relayState });
  }

  it('lands on the Default redirect URL with nothing issued, with no RelayState or Okta-style default RelayState', async () => {
    const { account, connection } = await setupAccount(lanyard, idp);
    for (const relayState of [undefined, 'https://okta.example.com/app/default-relay-state']) {
      const landed = await tileClick(connection.sid, relayState);
      expect(landed.status).toBe(303);
      const location = new URL(landed.headers.get('location')!);
      expect(location.toString()).toBe(DESKTOP_URL);
      expect([...location.searchParams.keys()]).toEqual([]);
    }
    expect(await lanyard.services.users.list(account.sid)).toEqual([]);
    // The desktop then starts an ordinary sign-in, which the IdP session completes.
    const login = await flexLogin(lanyard, idp, connection.sid, 'ada@example.com');
    expect((await exchangeCode(lanyard, connection.sid, login)).status).toBe(200);
  });

  it('says exactly what to configure when there is no Default redirect URL', async () => {
    const { connection } = await setupAccount(lanyard, idp, { defaultRedirect: null });
    const refused = await tileClick(connection.sid);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/app tile.*no Default redirect URL.*lanyard redirect-url set/);
  });

  it('still refuses a solicited-looking response with a RelayState that is not ours', async () => {
    const { connection } = await setupAccount(lanyard, idp);
    const sp = enhancedServiceProvider(lanyard.url, connection.sid);
    const response = await idp.createResponse({ userId: 'ada@example.com', audience: sp.entityId, acsUrl: sp.acsUrl, inResponseTo: '_not-ours' });
    const refused = await postForm(sp.acsUrl, { SAMLResponse: response.SAMLResponse, RelayState: 'lr_unknown' });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/expired or is unknown/);
  });
});
