import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { ConsoleTestSignIn } from '../../packages/server/src/console/test-sign-in.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { postForm } from '../support/flows.ts';
import { ALGORITHMS, createEnterpriseIdp, readPostPage, type EnterpriseIdp, type UserClaims } from '../support/samlify-idp.ts';

/**
 * The console's test sign-in against IdPs configured as in issue 14: each diagnosis in words in
 * the report (encryption, request signing and binding, transient NameIDs, stale authentication).
 */
describe('console test sign-in diagnosis', () => {
  let lanyard: TestLanyard;
  let adminKeySid: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    adminKeySid = (await lanyard.services.adminKeys.create('console test')).key.sid;
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  async function report(idp: EnterpriseIdp, user: UserClaims, options: { authnInstant?: Date } = {}) {
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Console diagnosis');
    const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
    const metadata = await (await fetch(`${lanyard.url}/login/metadata?connection=${connection.sid}`)).text();
    const tests = new ConsoleTestSignIn(lanyard.services);
    const started = await tests.begin(account.sid, adminKeySid, 'enhanced');
    const carried = started.url.startsWith(lanyard.url) ? { fields: (await readPostPage(started.url)).fields } : { url: started.url };
    const request = await idp.readRequest(metadata, carried);
    const page = await postForm(request.acsUrl, await idp.respond(metadata, request, user, options));
    expect(page.status).toBe(200);
    const status = await tests.status(started.id, adminKeySid);
    if (status.status !== 'done') throw new Error('the test sign-in did not finish');
    return status.report;
  }

  const ada: UserClaims = { nameId: 'ada@example.com', email: 'ada@example.com', fullName: 'Ada', roles: ['agent'] };

  it('reports an encrypted assertion and a signed POST-binding request as such, and succeeds', async () => {
    const idp = createEnterpriseIdp({
      credentials: await generateSigningCredentials('Console IdP'),
      encrypt: { data: ALGORITHMS.data.AES_128_GCM, key: ALGORITHMS.key.RSA_OAEP_MGF1P },
      wantAuthnRequestsSigned: true,
      bindings: ['post'],
    });
    const result = await report(idp, ada);
    expect(result.error).toBeNull();
    expect(result.succeeded).toBe(true);
    expect(result.warnings.join('\n')).toMatch(/arrived encrypted.*decrypted/);
    expect(result.warnings.join('\n')).toMatch(/HTTP-POST, signed \(the IdP metadata asks for signed requests\)/);
  });

  it('reports a transient NameID with what to set at the IdP, and an IdP session reused from long ago', async () => {
    const idp = createEnterpriseIdp({ credentials: await generateSigningCredentials('Console IdP 2') });
    const result = await report(idp, { ...ada, nameId: '_tr4ns', nameIdFormat: 'transient' }, { authnInstant: new Date(Date.now() - 7200_000) });
    expect(result.succeeded).toBe(false);
    expect(result.error!.message).toMatch(/transient NameID.*persistent or emailAddress/);
    expect(result.attributes.email).toEqual(['ada@example.com']);
    expect(result.warnings.join('\n')).toMatch(/reused an authentication from .*ForceAuthn/);
  });
});
