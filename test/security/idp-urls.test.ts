import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * Issue 13, item 8: IdP metadata (the certificates we trust) and the IdP's SSO URL (where users
 * type passwords) never travel over plain http off this machine. Checked where the admin API and
 * the CLI both set them (AccountService), and on the scheduled metadata refresh.
 */

let lanyard: TestLanyard;
let idp: DevIdp;
let metadataServer: Server;
let requests = 0;
let served = '';

beforeAll(async () => {
  idp = await startDevIdp({ port: 0 });
  served = idp.metadataXml;
  metadataServer = createServer((_req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    res.end(served);
  });
  await new Promise<void>((resolve) => metadataServer.listen(0, '127.0.0.1', resolve));
  lanyard = await startTestLanyard('sqlite');
});
afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
  metadataServer?.close();
});

const loopbackUrl = () => `http://127.0.0.1:${(metadataServer.address() as AddressInfo).port}/metadata`;

describe('IdP URLs over cleartext', () => {
  it('refuses a plain-http metadata URL on a non-loopback host before fetching anything', async () => {
    const { account } = await lanyard.services.accounts.createAccount('Cleartext metadata');
    for (const url of ['http://idp.example.com/metadata', 'http://10.0.0.5/metadata', 'ftp://idp.example.com/metadata']) {
      await expect(lanyard.services.accounts.setSaml(account.sid, { metadataUrl: url }), url).rejects.toMatchObject({
        code: 20001,
        message: expect.stringMatching(/metadataUrl must use https|metadataUrl must be an https URL/),
      });
    }
  });

  it('refuses a plain-http SSO URL off loopback, given directly or inside metadata', async () => {
    const { account } = await lanyard.services.accounts.createAccount('Cleartext SSO URL');
    await expect(
      lanyard.services.accounts.setSaml(account.sid, { issuer: 'urn:idp', ssoUrl: 'http://idp.example.com/sso', certificate: idp.certificatePem }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/ssoUrl must use https/) });
    const http = idp.metadataXml.replace(new RegExp(idp.ssoUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), 'http://idp.example.com/sso');
    expect(http).not.toBe(idp.metadataXml);
    await expect(lanyard.services.accounts.setSaml(account.sid, { metadataXml: http })).rejects.toMatchObject({
      message: expect.stringMatching(/SSO URL in the IdP metadata must use https/),
    });
  });

  it('refuses an SSO URL with white space or control characters, given directly or inside metadata (an AuthnRequest says it verbatim)', async () => {
    const { account } = await lanyard.services.accounts.createAccount('Control characters');
    for (const ssoUrl of [
      'https://idp.example.com/sso\u0001',
      'https://idp.example.com/sso\tx',
      'https://idp.example.com/s so',
      'https://idp.example.com/sso\ud800',
    ]) {
      await expect(
        lanyard.services.accounts.setSaml(account.sid, { issuer: 'urn:idp', ssoUrl, certificate: idp.certificatePem }),
        JSON.stringify(ssoUrl),
      ).rejects.toMatchObject({ code: 20001, message: expect.stringMatching(/^ssoUrl contains white space or control characters/) });
    }
    // In metadata, a tab inside the Location attribute's value (as a character reference: XML keeps it).
    const tabbed = idp.metadataXml.replace(new RegExp(idp.ssoUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), `${idp.ssoUrl}&#9;x`);
    expect(tabbed).not.toBe(idp.metadataXml);
    await expect(lanyard.services.accounts.setSaml(account.sid, { metadataXml: tabbed })).rejects.toMatchObject({
      message: expect.stringMatching(/SSO URL in the IdP metadata contains white space or control characters/),
    });
  });

  it('accepts http on loopback (the control), and the refresh refuses what an older version saved', async () => {
    const { account } = await lanyard.services.accounts.createAccount('Loopback metadata');
    const before = requests;
    const connection = await lanyard.services.accounts.setSaml(account.sid, { metadataUrl: loopbackUrl() });
    expect(requests).toBe(before + 1);
    expect(connection.saml?.issuer).toBe(idp.entityId);
    // A connection saved before https was required: the refresh names the problem and keeps the settings.
    const stored = await lanyard.services.storage.find<typeof connection>('connection', connection.sid);
    await lanyard.services.storage.upsert({
      ...stored!,
      payload: { ...connection, saml: { ...connection.saml!, metadataUrl: 'http://idp.example.com/md' } },
    });
    const result = (await lanyard.services.accounts.refreshMetadata()).find((r) => r.connectionSid === connection.sid);
    expect(result).toMatchObject({ changed: false, error: expect.stringMatching(/metadataUrl must use https/) });
  });
});
