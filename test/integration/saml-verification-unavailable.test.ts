import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, flexLogin, setupAccount } from '../support/flows.ts';

/**
 * A SAML response the node cannot verify now (its verification workers stopped, e.g. during a
 * shutdown) reaches the desktop as a temporary failure it can start over from, not a 500 or a
 * rejection of the user (docs/operations.md, "SAML verification workers busy or stopped").
 */
describe('a SAML response that cannot be verified now', () => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it('sends the desktop temporarily_unavailable (RFC 6749 §4.1.2.1) with code 20530, and records the failure', async () => {
    // Verified on the workers first: the sign-in works.
    expect((await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com')).code).not.toBe('');
    await lanyard.services.samlVerification.close();
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    expect(login.callback.origin + login.callback.pathname).toBe(DESKTOP_URL);
    expect(login.code).toBe('');
    expect(Object.fromEntries(login.callback.searchParams)).toMatchObject({
      error: 'temporarily_unavailable',
      error_code: '20530',
      error_description: expect.stringMatching(/could not be completed right now: this node is shutting down\. Sign in again in a moment/),
    });
    const [failed] = await lanyard.services.audit.recent(setup.account.sid, 1);
    expect(failed).toMatchObject({ type: 'login.failed', code: 20530 });
  });
});
