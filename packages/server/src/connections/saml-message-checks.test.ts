import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../../demo/src/dev-idp/index.ts';
import type { SamlVerificationTask } from './saml-message-verification.ts';
import { verifyOnThisThread } from './saml-verification-pool.ts';

const AUDIENCE = 'urn:flex:JQ00000000000000000000000000000002';
const ACS = 'https://sso.example.test/login/callback?connection=JQ02';
/** PEM armour around bytes that are no certificate: settings refuse it, the checks must still answer well. */
const UNPARSEABLE = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

describe("signature checks with the certificates' parsed keys", () => {
  let idp: DevIdp;
  let other: DevIdp;
  const response = async (): Promise<string> => {
    const { SAMLResponse } = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: ACS, audience: AUDIENCE });
    return Buffer.from(SAMLResponse, 'base64').toString('utf8');
  };
  const verify = (xml: string, certificates: string[]) =>
    verifyOnThisThread.verify({ xml, certificates, decryptionKeys: [], allowRsa15KeyTransport: false } satisfies SamlVerificationTask);

  beforeAll(async () => {
    [idp, other] = await Promise.all([startDevIdp({ port: 0 }), startDevIdp({ port: 0 })]);
    expect(other.certificatePem).not.toBe(idp.certificatePem);
  });
  afterAll(async () => {
    await idp?.close();
    await other?.close();
  });

  it('verifies a response again and again with one configured certificate, and with the right one of two in a rollover', async () => {
    const xml = await response();
    for (let i = 0; i < 3; i++) expect((await verify(xml, [idp.certificatePem])).assertion.nameId).toBe('ada@example.com');
    expect((await verify(xml, [other.certificatePem, idp.certificatePem])).assertion.nameId).toBe('ada@example.com');
    expect((await verify(xml, [UNPARSEABLE, idp.certificatePem])).assertion.nameId).toBe('ada@example.com');
    // Bare base64 DER, as pasted from some IdP consoles; this one's length is a multiple of 64.
    const bare = idp.certificatePem.replace(/-----[^-]+-----|\s+/g, '');
    expect(bare.length % 64).toBe(0);
    expect((await verify(xml, [bare])).assertion.nameId).toBe('ada@example.com');
  });

  it('tries every configured certificate in a rollover when KeyInfo names none: a wrong or unparseable one first does not stop it', async () => {
    // Only the assertion signed, and no KeyInfo (it is outside SignedInfo): the list's order is the order tried.
    const { SAMLResponse } = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: ACS, audience: AUDIENCE, signResponse: false });
    const xml = Buffer.from(SAMLResponse, 'base64')
      .toString('utf8')
      .replace(/<(\w+:)?KeyInfo[\s\S]*?<\/(\w+:)?KeyInfo>/g, '');
    expect(xml).not.toMatch(/KeyInfo/);
    expect((await verify(xml, [other.certificatePem, idp.certificatePem])).assertion.nameId).toBe('ada@example.com');
    expect((await verify(xml, [UNPARSEABLE, idp.certificatePem])).assertion.nameId).toBe('ada@example.com');
    await expect(verify(xml, [other.certificatePem, UNPARSEABLE])).rejects.toThrow(/was not made with any of the configured IdP certificates/);
  });

  it("refuses another IdP's certificate, naming the certificate setting", async () => {
    const xml = await response();
    // Verified once with the right key first: what a thread remembers is never another certificate's key.
    await verify(xml, [idp.certificatePem]);
    await expect(verify(xml, [other.certificatePem])).rejects.toThrow(/was not made with the configured IdP certificate/);
  });

  it('reports a changed message as changed, even when the configured certificate does not parse', async () => {
    const changed = (await response()).replaceAll('ada@example.com', 'eve@example.com');
    await expect(verify(changed, [idp.certificatePem])).rejects.toThrow(/does not match the content/);
    await expect(verify(changed, [UNPARSEABLE])).rejects.toThrow(/does not match the content/);
  });
});
