import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, flexLogin } from '../support/flows.ts';

/** IdP metadata imported from a URL follows the IdP's changes (certificate rollover, new endpoints). */
describe.each(BACKENDS)('SAML metadata refresh on %s', (backend) => {
  let lanyard: TestLanyard;
  let oldIdp: DevIdp;
  let newIdp: DevIdp;
  let metadataServer: Server;
  let served: { status: number; body: string };
  let metadataUrl: string;

  beforeAll(async () => {
    oldIdp = await startDevIdp({ port: 0 });
    newIdp = await startDevIdp({ port: 0 });
    served = { status: 200, body: oldIdp.metadataXml };
    metadataServer = createServer((_req, res) => {
      res.writeHead(served.status, { 'content-type': 'application/samlmetadata+xml' });
      res.end(served.body);
    });
    await new Promise<void>((resolve) => metadataServer.listen(0, '127.0.0.1', resolve));
    metadataUrl = `http://127.0.0.1:${(metadataServer.address() as AddressInfo).port}/metadata`;
    lanyard = await startTestLanyard(backend);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await Promise.all([oldIdp?.close(), newIdp?.close()]);
    metadataServer?.close();
  });

  it('re-reads the metadata URL, keeps the last good settings on failure, and follows the new key', async () => {
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Metadata URL');
    const connection = await accounts.setSaml(account.sid, { metadataUrl });
    await accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(account.sid, DESKTOP_URL);
    expect((await flexLogin(lanyard, oldIdp, connection.sid, 'ada@example.com')).code).not.toBe('');

    expect(await accounts.refreshMetadata()).toContainEqual({ connectionSid: connection.sid, changed: false, error: null });

    served = { status: 500, body: 'down' };
    const failed = (await accounts.refreshMetadata()).find((r) => r.connectionSid === connection.sid);
    expect(failed?.error).toMatch(/HTTP 500/);
    expect((await accounts.getConnection(connection.sid)).saml?.issuer).toBe(oldIdp.entityId);

    served = { status: 200, body: newIdp.metadataXml };
    expect(await accounts.refreshMetadata()).toContainEqual({ connectionSid: connection.sid, changed: true, error: null });
    const updated = await accounts.getConnection(connection.sid);
    expect(updated.saml).toMatchObject({ issuer: newIdp.entityId, ssoUrl: newIdp.ssoUrl, metadataUrl });
    expect((await flexLogin(lanyard, newIdp, connection.sid, 'ada@example.com')).code).not.toBe('');
    // The retired key no longer signs anything we accept.
    const stale = await flexLogin(lanyard, oldIdp, connection.sid, 'ada@example.com');
    expect(stale.code).toBe('');
    expect(stale.callback.searchParams.get('error_description')).toMatch(/signature|unexpected IdP/);
  });
});
