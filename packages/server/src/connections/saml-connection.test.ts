import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDevIdp, type DevIdp } from '../../../demo/src/dev-idp/index.ts';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../../../../test/support/backends.ts';
import type { SamlIdpSettings } from '../accounts/model.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/port.ts';
import { SamlConnection, serviceProviderMetadata, type ServiceProvider } from './saml-connection.ts';
import { SamlVerificationPool, verifyOnThisThread, type SamlMessageVerifier } from './saml-verification-pool.ts';

const SP: ServiceProvider = {
  entityId: 'urn:flex:JQ00000000000000000000000000000001',
  acsUrl: 'https://sso.example.test/login/callback?connection=JQ01',
};

// Every check once with the message verified on this thread and once on the server's worker
// threads (saml-verification-pool.ts): the same verdicts, the same refusals, the same precedence.
const VERIFIERS = ['this thread', 'worker threads'] as const;

describe.each(BACKENDS.flatMap((backend) => VERIFIERS.map((where) => [backend, where] as const)))(
  'SamlConnection on %s, verified on %s, against a samlify IdP',
  (backend, where) => {
    let pool: SamlVerificationPool | undefined;
    let verifier: SamlMessageVerifier;
    let idp: DevIdp;
    let stranger: DevIdp;
    let db: TestDatabase;
    let storage: Storage;
    let settings: SamlIdpSettings;
    let connection: SamlConnection;
    let requests = 0;

    beforeAll(async () => {
      [idp, stranger] = await Promise.all([startDevIdp({ port: 0 }), startDevIdp({ port: 0 })]);
      db = await createTestDatabase(backend, undefined, 'unit');
      storage = await openStorage(db.url);
      settings = { issuer: idp.entityId, ssoUrl: idp.ssoUrl, certificates: [idp.certificatePem], metadataUrl: null, clockSkewSeconds: 120 };
      pool = where === 'worker threads' ? new SamlVerificationPool({ threads: 2, onWarning: (message) => expect.fail(message) }) : undefined;
      verifier = pool ?? verifyOnThisThread;
      connection = new SamlConnection(storage, settings, SP, undefined, verifier);
    });
    afterAll(async () => {
      // Each verification ran where this block says (none fell back to this thread).
      if (pool) expect(pool.verified).toMatchObject({ onThisThread: 0, onWorkers: expect.any(Number) });
      if (pool) expect(pool.verified.onWorkers).toBeGreaterThan(10);
      await pool?.close();
      vi.useRealTimers();
      await storage?.close();
      await db?.drop();
      await Promise.all([idp?.close(), stranger?.close()]);
    });

    /** The IdP URL of an HTTP-Redirect AuthnRequest (this connection's IdP offers that binding). */
    async function redirectUrlOf(saml: SamlConnection, requestId: string, relayState: string): Promise<string> {
      const request = await saml.authnRequest(requestId, relayState);
      if (request.binding !== 'redirect') throw new Error(`expected the HTTP-Redirect binding, got ${request.binding}`);
      return request.url;
    }

    /** Sends an AuthnRequest (stored for the InResponseTo check) and returns its ID. */
    async function sendRequest(): Promise<string> {
      const id = `_unit${++requests}${Date.now()}`;
      await redirectUrlOf(connection, id, 'relay');
      return id;
    }
    const answer = (inResponseTo: string | undefined, changes: Partial<Parameters<DevIdp['createResponse']>[0]> = {}, from = idp) =>
      from.createResponse({
        userId: 'ada@example.com',
        acsUrl: SP.acsUrl,
        audience: SP.entityId,
        ...(inResponseTo ? { inResponseTo } : {}),
        ...changes,
      });

    it('sends a deflated AuthnRequest with our ID, entity ID and ACS URL to the IdP (HTTP-Redirect)', async () => {
      const url = new URL(await redirectUrlOf(connection, '_request-one', 'relay-state-1'));
      expect(url.origin + url.pathname).toBe(idp.ssoUrl);
      expect(url.searchParams.get('RelayState')).toBe('relay-state-1');
      const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
      expect(xml).toContain('ID="_request-one"');
      expect(xml).toContain(`AssertionConsumerServiceURL="${SP.acsUrl.replace(/&/g, '&amp;')}"`);
      expect(xml).toContain(`>${SP.entityId}</saml:Issuer>`);
    });

    it('refuses to send an AuthnRequest to a saved SSO URL with white space or control characters, naming the fix', async () => {
      for (const ssoUrl of [`${idp.ssoUrl}\u0001`, `${idp.ssoUrl}\t`, `${idp.ssoUrl}\ud800`]) {
        const saml = new SamlConnection(storage, { ...settings, ssoUrl }, SP, undefined, verifier);
        await expect(saml.authnRequest('_bad-url', 'relay'), JSON.stringify(ssoUrl)).rejects.toMatchObject({
          code: 70251,
          message: expect.stringMatching(/SSO URL .* contains white space or control characters: set it again as the IdP publishes it/),
        });
      }
    });

    it('verifies a signed answer to our request and returns the NameID, request and attributes', async () => {
      const id = await sendRequest();
      const verified = await connection.verify((await answer(id)).SAMLResponse, true);
      expect(verified).toMatchObject({ nameId: 'ada@example.com', issuer: idp.entityId, inResponseTo: id });
      expect(verified.attributes).toEqual({ full_name: ['Ada Lovelace'], email: ['ada@example.com'], roles: ['admin', 'supervisor', 'agent'] });
    });

    it('accepts each assertion once (SAML Profiles §4.1.4.5)', async () => {
      const unsolicited = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: SP.acsUrl, audience: SP.entityId });
      await connection.verify(unsolicited.SAMLResponse, false);
      await expect(connection.verify(unsolicited.SAMLResponse, false)).rejects.toMatchObject({
        code: 45010,
        message: expect.stringMatching(/already been used \(replay\)/),
      });
    });

    it('refuses an answer to a request it never sent, or an unsolicited one where a request was expected', async () => {
      await expect(connection.verify((await answer('_never-sent')).SAMLResponse, true)).rejects.toThrow(/InResponseTo/);
      await expect(connection.verify((await answer(undefined)).SAMLResponse, true)).rejects.toThrow(/InResponseTo/);
    });

    it('refuses another audience, another Recipient and another Destination', async () => {
      await expect(connection.verify((await answer(await sendRequest(), { audience: 'urn:flex:JQ-other' })).SAMLResponse, true)).rejects.toThrow(
        /audience/,
      );
      await expect(
        connection.verify((await answer(await sendRequest(), { acsUrl: 'https://evil.example.test/acs' })).SAMLResponse, true),
      ).rejects.toThrow(/Recipient is not this service's ACS URL/);
      await expect(
        connection.verify((await answer(await sendRequest(), { destination: 'https://evil.example.test/acs' })).SAMLResponse, true),
      ).rejects.toThrow(/Destination is not this service's ACS URL/);
    });

    it('checks InResponseTo before the Conditions, and spends the request either way', async () => {
      // Both wrong: the unknown request is named first.
      await expect(connection.verify((await answer('_never-sent', { audience: 'urn:flex:JQ-other' })).SAMLResponse, true)).rejects.toThrow(
        /InResponseTo/,
      );
      // Our request, another audience: the audience is named, and the request is spent.
      const id = await sendRequest();
      await expect(connection.verify((await answer(id, { audience: 'urn:flex:JQ-other' })).SAMLResponse, true)).rejects.toThrow(
        /audience is not this service provider/,
      );
      await expect(connection.verify((await answer(id)).SAMLResponse, true)).rejects.toThrow(/InResponseTo/);
    });

    it('trusts the configured certificates only, and requires a signed Response or assertion', async () => {
      await expect(connection.verify((await answer(await sendRequest(), {}, stranger)).SAMLResponse, true)).rejects.toThrow(
        /not made with the configured IdP certificate/,
      );
      await expect(
        connection.verify((await answer(await sendRequest(), { signAssertion: false, signResponse: false })).SAMLResponse, true),
      ).rejects.toMatchObject({ code: 45010 });
      // A signed Response covers its unsigned assertion (Google Workspace, Keycloak defaults).
      await expect(connection.verify((await answer(await sendRequest(), { signAssertion: false })).SAMLResponse, true)).resolves.toMatchObject({
        nameId: 'ada@example.com',
      });
    });

    it('refuses an assertion signed with the right key for another issuer (one key, many tenants)', async () => {
      const tenant = new SamlConnection(storage, { ...settings, issuer: 'https://idp.example.test/tenant-b' }, SP, undefined, verifier);
      const id = `_tenant${Date.now()}`;
      await redirectUrlOf(tenant, id, 'relay');
      await expect(tenant.verify((await answer(id)).SAMLResponse, true)).rejects.toThrow(
        /not by the configured IdP "https:\/\/idp.example.test\/tenant-b"/,
      );
    });

    it('refuses an assertion past its validity window', async () => {
      const unsolicited = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: SP.acsUrl, audience: SP.entityId });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60 * 60_000 });
      try {
        await expect(connection.verify(unsolicited.SAMLResponse, false)).rejects.toThrow(/outside its validity window/);
      } finally {
        vi.useRealTimers();
      }
    });

    it('judges the time windows by the clock once the message is verified (it may have waited for a worker)', async () => {
      const unsolicited = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: SP.acsUrl, audience: SP.entityId });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        // A verification that took an hour (a queue, a stuck worker): the assertion has expired meanwhile.
        const slow: SamlMessageVerifier = {
          async verify(task) {
            const message = await verifier.verify(task);
            vi.setSystemTime(Date.now() + 60 * 60_000);
            return message;
          },
        };
        const late = new SamlConnection(storage, settings, SP, undefined, slow);
        // The Conditions first (the confirmation's window would say the same afterwards).
        await expect(late.verify(unsolicited.SAMLResponse, false)).rejects.toThrow(/Conditions NotOnOrAfter has passed/);
      } finally {
        vi.useRealTimers();
      }
    });

    it('reads the decryption keys only for an encrypted assertion that passed every check before decryption', async () => {
      let reads = 0;
      const keys = {
        decryptionKeys: async () => {
          reads++;
          return [];
        },
        signing: async () => {
          throw new Error('not used here');
        },
      };
      const counting = new SamlConnection(storage, settings, SP, keys, verifier);
      const encrypted = (status: string) =>
        Buffer.from(
          `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1">` +
            `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:${status}"/></samlp:Status>` +
            `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">` +
            `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>` +
            `<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/></xenc:EncryptedKey></ds:KeyInfo>` +
            `</xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>`,
        ).toString('base64');
      // A refusal that comes before decryption reads no key; neither does a plain assertion.
      await expect(counting.verify(encrypted('Responder'), false)).rejects.toThrow(/did not sign the user in/);
      await expect(counting.verify(Buffer.from('<EncryptedAssertion/>').toString('base64'), false)).rejects.toThrow(/not a SAML 2.0 Response/);
      await counting.verify((await answer(undefined)).SAMLResponse, false);
      expect(reads).toBe(0);
      // Past those checks, the keys are read once, and the message checked again with them.
      await expect(counting.verify(encrypted('Success'), false)).rejects.toThrow(/encrypted but this connection has no encryption key/);
      expect(reads).toBe(1);
    });

    it('refuses DTDs, non-base64 input and oversized messages before parsing', async () => {
      const dtd = Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><samlp:Response/>').toString('base64');
      await expect(connection.verify(dtd, false)).rejects.toThrow(/DTDs and entity declarations are not allowed/);
      await expect(connection.verify('<xml>', false)).rejects.toThrow(/not base64/);
      await expect(connection.verify('A'.repeat(256 * 1024 + 4), false)).rejects.toThrow(/too large/);
    });

    it('describes the service provider in metadata the IdP can import', () => {
      const xml = serviceProviderMetadata(SP);
      expect(xml).toContain(`entityID="${SP.entityId}"`);
      expect(xml).toContain(`Location="${SP.acsUrl.replace(/&/g, '&amp;')}"`);
      expect(xml).toMatch(/WantAssertionsSigned="true"/);
    });
  },
);
