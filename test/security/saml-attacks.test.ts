import { DOMParser } from '@xmldom/xmldom';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSigningCredentials, startDevIdp, type DevIdp, type SigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { legacyServiceProvider, enhancedServiceProvider } from '../../packages/server/src/login/service-providers.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { postForm, setupAccount } from '../support/flows.ts';
import {
  ACS_FLOWS,
  beginSignIn,
  genuineResponse,
  lastAuditReason,
  postToAcs,
  readOutcome,
  type AcsContext,
  type AcsFlow,
  type AcsOutcome,
  type PendingSignIn,
} from './support/acs.ts';
import {
  DIGEST_SHA1,
  RSA_SHA1,
  SAML,
  SAMLP,
  XSW,
  decodeXml,
  edit,
  encodeXml,
  first,
  resign,
  setNameId,
  setValidity,
  spliceKeyInfoCertificate,
} from './support/saml-messages.ts';

/**
 * SAML attacks against both assertion consumer services: the enhanced broker
 * (`POST /login/callback?connection=JQ…`) and legacy SSO (`POST /v1/Accounts/{AC}/saml2`).
 * Every response starts as a genuine one from the development IdP (samlify) answering a real
 * AuthnRequest of Lanyard's; the attacker then edits, wraps or re-signs it. Each test fails if the
 * attack signs anyone in, and checks the refusal names a sensible reason.
 */

const VICTIM = 'ada@example.com';
const ATTACKER = 'mallory@example.com';
/** The attacker's own IdP account, one comment away from the victim's NameID. */
const LOOKALIKE = 'ada@example.com.evil';
const USERS = [
  { id: VICTIM, full_name: 'Ada Lovelace', email: VICTIM, roles: ['admin', 'supervisor', 'agent'] },
  { id: ATTACKER, full_name: 'Mallory', email: ATTACKER, roles: ['agent'] },
  { id: LOOKALIKE, full_name: 'Not Ada', email: LOOKALIKE, roles: ['agent', 'admin.evil'] },
];

let lanyard: TestLanyard;
let idp: DevIdp;
let idpKey: SigningCredentials;
let rogue: DevIdp;
let rogueKey: SigningCredentials;
let ctx: AcsContext;

beforeAll(async () => {
  idpKey = await generateSigningCredentials('Contoso IdP');
  rogueKey = await generateSigningCredentials('Attacker IdP');
  idp = await startDevIdp({ port: 0, users: USERS, credentials: idpKey });
  rogue = await startDevIdp({ port: 0, users: USERS, credentials: rogueKey });
  // Dozens of sign-ins a minute from one address: lift the login limit for this suite only.
  lanyard = await startTestLanyard('sqlite', { rateLimitLoginPerMinute: 10_000 });
  const setup = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setMode(setup.account.sid, 'both');
  // "admin.evil" is a role this account recognises, so the comment-injection test can see what
  // the token carries (unrecognised values are dropped).
  await lanyard.services.accounts.setDeclaredRoles(setup.account.sid, ['admin.evil']);
  ctx = { lanyard, accountSid: setup.account.sid, connectionSid: setup.connection.sid };
});

afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
  await rogue?.close();
});

/** Asserts nobody was signed in and that both the response and the audit log say why. */
async function expectRefused(outcome: AcsOutcome, reason: RegExp, options: { audited?: boolean } = {}): Promise<void> {
  expect(outcome.issued, `the attack signed someone in as ${outcome.signedInAs}`).toBe(false);
  expect(outcome.status === 303 || (outcome.status >= 400 && outcome.status < 500), `status ${outcome.status}`).toBe(true);
  expect(outcome.reason).toMatch(reason);
  if (options.audited ?? true) expect(await lastAuditReason(ctx)).toMatch(reason);
}

const attackerResponse = (pending: PendingSignIn, options: Parameters<typeof genuineResponse>[3] = {}) =>
  genuineResponse(idp, pending, ATTACKER, options);
/** The attacker's genuine response, edited, then signed again with the configured IdP key. */
const signedByIdp = async (pending: PendingSignIn, change: (doc: Document) => void, options: Parameters<typeof resign>[2] = {}) =>
  encodeXml(resign(edit(decodeXml(await attackerResponse(pending)), change as never), idpKey, options));

describe.each(ACS_FLOWS)('SAML attacks at the %s ACS', (flow: AcsFlow) => {
  const begin = () => beginSignIn(ctx, flow);

  describe('controls (the crafting tools produce messages the ACS accepts)', () => {
    it('accepts the genuine response of the IdP', async () => {
      const pending = await begin();
      const outcome = await postToAcs(ctx, pending, await attackerResponse(pending));
      expect(outcome).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('accepts a response re-signed with the configured IdP key by this suite', async () => {
      const pending = await begin();
      const outcome = await postToAcs(ctx, pending, await signedByIdp(pending, () => undefined));
      expect(outcome).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('accepts a signed assertion in an unsigned response (policy: the Response or its assertion is signed)', async () => {
      const pending = await begin();
      const outcome = await postToAcs(ctx, pending, await attackerResponse(pending, { signResponse: false, signAssertion: true }));
      expect(outcome).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });
  });

  describe('XML signature wrapping', () => {
    it.each(['XSW1', 'XSW2'])('%s (wrapping a signed Response) is refused', async (variant) => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: true, signAssertion: true }));
      await expectRefused(await postToAcs(ctx, pending, encodeXml(XSW[variant]!(xml, VICTIM))), /signature|multiple assertions/);
    });

    it.each(['XSW3', 'XSW4', 'XSW5', 'XSW6', 'XSW7', 'XSW8'])('%s (wrapping a signed Assertion) is refused', async (variant) => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: false, signAssertion: true }));
      await expectRefused(await postToAcs(ctx, pending, encodeXml(XSW[variant]!(xml, VICTIM))), /signature|multiple assertions/);
    });

    it("refuses an evil assertion that reuses the signed assertion's ID (duplicate IDs)", async () => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: false }));
      const wrapped = XSW.XSW3!(xml, VICTIM).replace(/ID="_evil[0-9a-f]+"/, `ID="${/<saml:Assertion[^>]* ID="([^"]+)"/.exec(xml)![1]}"`);
      await expectRefused(await postToAcs(ctx, pending, encodeXml(wrapped)), /signature|multiple assertions/);
    });

    it('refuses an assertion whose signed content was edited (NameID changed)', async () => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: false }));
      await expectRefused(await postToAcs(ctx, pending, encodeXml(edit(xml, (doc) => setNameId(doc, VICTIM)))), /signature/);
    });
  });

  describe('comment injection', () => {
    it('reads the NameID from the signed, canonical bytes: a comment cannot truncate it to the victim', async () => {
      const pending = await begin();
      const xml = decodeXml(await genuineResponse(idp, pending, LOOKALIKE, { signResponse: false }));
      // Exclusive C14N drops comments, so the signature still verifies after this edit.
      const injected = xml.replace(`>${LOOKALIKE}</saml:NameID>`, `>${VICTIM}<!---->.evil</saml:NameID>`);
      expect(injected).not.toBe(xml);
      const outcome = await postToAcs(ctx, pending, encodeXml(injected));
      expect(outcome.signedInAs).not.toBe(VICTIM);
      // The attacker gets exactly what the IdP vouched for: their own account.
      expect(outcome).toMatchObject({ issued: true, signedInAs: LOOKALIKE });
    });

    it('does the same for an attribute value: a comment cannot turn the role "admin.evil" into "admin"', async () => {
      const pending = await begin();
      const xml = decodeXml(await genuineResponse(idp, pending, LOOKALIKE, { signResponse: false }));
      const injected = xml.replace('>admin.evil</saml:AttributeValue>', '>admin<!---->.evil</saml:AttributeValue>');
      expect(injected).not.toBe(xml);
      const outcome = await postToAcs(ctx, pending, encodeXml(injected));
      expect(outcome).toMatchObject({ issued: true, signedInAs: LOOKALIKE });
      expect(outcome.roles).not.toContain('admin');
      expect(outcome.roles).toContain('admin.evil');
    });
  });

  describe('signature presence and signer', () => {
    it("accepts an unsigned assertion inside a signed response (Google Workspace 'Signed response', Keycloak's default)", async () => {
      const pending = await begin();
      const outcome = await postToAcs(ctx, pending, await attackerResponse(pending, { signResponse: true, signAssertion: false }));
      expect(outcome).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('refuses a response with no signature at all', async () => {
      const pending = await begin();
      await expectRefused(await postToAcs(ctx, pending, await attackerResponse(pending, { signResponse: false, signAssertion: false })), /signature/);
    });

    it('refuses a response signed by another IdP (a key other than the configured certificate)', async () => {
      const pending = await begin();
      const forged = await genuineResponse(rogue, pending, VICTIM);
      await expectRefused(await postToAcs(ctx, pending, forged), /signature/);
    });

    it("ignores a certificate embedded in the message: signed by the attacker, KeyInfo carries the attacker's certificate", async () => {
      const pending = await begin();
      const xml = edit(decodeXml(await attackerResponse(pending)), (doc) => setNameId(doc, VICTIM));
      const forged = spliceKeyInfoCertificate(resign(xml, rogueKey, { response: true }), rogueKey.certificatePem);
      expect(forged).toContain(rogueKey.certificatePem.split('\n')[1]!);
      await expectRefused(await postToAcs(ctx, pending, encodeXml(forged)), /signature/);
    });

    it('refuses a message signed by the attacker whose KeyInfo names the configured certificate', async () => {
      const pending = await begin();
      const xml = edit(decodeXml(await attackerResponse(pending)), (doc) => setNameId(doc, VICTIM));
      const forged = spliceKeyInfoCertificate(resign(xml, rogueKey), idpKey.certificatePem);
      await expectRefused(await postToAcs(ctx, pending, encodeXml(forged)), /signature/);
    });

    it('refuses SHA-1 signatures by default (rsa-sha1 with sha1 digests), even with the configured key', async () => {
      const pending = await begin();
      const weak = await signedByIdp(pending, () => undefined, { signatureAlgorithm: RSA_SHA1, digestAlgorithm: DIGEST_SHA1 });
      expect(decodeXml(weak)).toContain(RSA_SHA1);
      await expectRefused(await postToAcs(ctx, pending, weak), /SHA-1|algorithm/);
    });

    it('refuses a SHA-1 digest under an RSA-SHA256 signature', async () => {
      const pending = await begin();
      const weak = await signedByIdp(pending, () => undefined, { digestAlgorithm: DIGEST_SHA1 });
      await expectRefused(await postToAcs(ctx, pending, weak), /SHA-1|algorithm/);
    });
  });

  describe('addressing: audience, recipient, destination, issuer', () => {
    it('refuses an assertion for another service provider (wrong Audience)', async () => {
      const pending = await begin();
      const other = await idp.createResponse({
        userId: ATTACKER,
        acsUrl: pending.acsUrl,
        audience: `urn:flex:JQ${'0'.repeat(32)}`,
        inResponseTo: pending.requestId,
      });
      await expectRefused(await postToAcs(ctx, pending, other.SAMLResponse), /audience/i);
    });

    it("refuses a response made for the other flow's service provider", async () => {
      const pending = await begin();
      const sp = flow === 'enhanced' ? legacyServiceProvider(lanyard.url, ctx.accountSid) : enhancedServiceProvider(lanyard.url, ctx.connectionSid);
      const other = await idp.createResponse({ userId: ATTACKER, acsUrl: sp.acsUrl, audience: sp.entityId, inResponseTo: pending.requestId });
      await expectRefused(await postToAcs(ctx, pending, other.SAMLResponse), /audience|Recipient|Destination/i);
    });

    it('refuses a signed assertion whose SubjectConfirmationData Recipient is another ACS', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) =>
        first(doc, SAML, 'SubjectConfirmationData').setAttribute('Recipient', 'https://sp.example.org/acs'),
      );
      await expectRefused(await postToAcs(ctx, pending, response), /Recipient/);
    });

    it('refuses a response whose Destination is another ACS', async () => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: false }));
      const response = edit(xml, (doc) => doc.documentElement!.setAttribute('Destination', 'https://sp.example.org/acs'));
      await expectRefused(await postToAcs(ctx, pending, encodeXml(response)), /Destination/);
    });

    it('refuses a signed Response whose signed Destination is another ACS', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => doc.documentElement!.setAttribute('Destination', 'https://sp.example.org/acs'), {
        response: true,
      });
      await expectRefused(await postToAcs(ctx, pending, response), /Destination/);
    });

    it('refuses an assertion signed with the configured key but issued by another entity (shared signing keys across tenants)', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => {
        for (const issuer of Array.from(doc.getElementsByTagNameNS(SAML, 'Issuer'))) {
          while (issuer.firstChild) issuer.removeChild(issuer.firstChild);
          issuer.appendChild(doc.createTextNode('https://sts.example.net/other-tenant/'));
        }
      });
      expect(decodeXml(response)).toContain('other-tenant');
      await expectRefused(await postToAcs(ctx, pending, response), /issu|IdP/i);
    });
  });

  describe('lifetime (clock skew 2 minutes)', () => {
    const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000);

    it('refuses an assertion expired beyond the allowed skew', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => setValidity(doc, at(-600), at(-180)));
      await expectRefused(await postToAcs(ctx, pending, response), /validity window|expired/i);
    });

    it('accepts an assertion expired by less than the allowed skew (the control for the test above)', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => setValidity(doc, at(-600), at(-60)));
      expect(await postToAcs(ctx, pending, response)).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('refuses an assertion not yet valid beyond the allowed skew', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => setValidity(doc, at(180), at(600)));
      await expectRefused(await postToAcs(ctx, pending, response), /validity window|not yet valid/i);
    });

    it('accepts an assertion valid from slightly in the future, within the skew (the control)', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) => setValidity(doc, at(60), at(600)));
      expect(await postToAcs(ctx, pending, response)).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('refuses an assertion whose bearer confirmation has expired even though its Conditions have not', async () => {
      const pending = await begin();
      const response = await signedByIdp(pending, (doc) =>
        first(doc, SAML, 'SubjectConfirmationData').setAttribute('NotOnOrAfter', at(-180).toISOString()),
      );
      await expectRefused(await postToAcs(ctx, pending, response), /validity window|expired|subject confirmation/i);
    });
  });

  describe('InResponseTo and replay', () => {
    it('refuses a response answering another outstanding request of ours', async () => {
      const pending = await begin();
      const other = await begin();
      await expectRefused(await postToAcs(ctx, pending, await attackerResponse(other)), /InResponseTo|another sign-in request/);
    });

    it('refuses a response answering a request we never sent', async () => {
      const pending = await begin();
      const response = await idp.createResponse({
        userId: ATTACKER,
        acsUrl: pending.acsUrl,
        audience: pending.audience,
        inResponseTo: '_never-sent-' + randomBytes(8).toString('hex'),
      });
      await expectRefused(await postToAcs(ctx, pending, response.SAMLResponse), /InResponseTo/);
    });

    it('refuses an unsolicited response posted with the RelayState of a pending sign-in', async () => {
      const pending = await begin();
      const response = await idp.createResponse({ userId: ATTACKER, acsUrl: pending.acsUrl, audience: pending.audience });
      await expectRefused(await postToAcs(ctx, pending, response.SAMLResponse), /InResponseTo/);
    });

    it('refuses a response whose unsigned InResponseTo was rewritten to a pending request', async () => {
      const pending = await begin();
      const other = await begin();
      const xml = decodeXml(await attackerResponse(other, { signResponse: false }));
      const rewritten = edit(xml, (doc) => doc.documentElement!.setAttribute('InResponseTo', pending.requestId));
      await expectRefused(await postToAcs(ctx, pending, encodeXml(rewritten)), /InResponseTo/);
    });

    it('refuses the same response posted twice', async () => {
      const pending = await begin();
      const response = await attackerResponse(pending);
      expect((await postToAcs(ctx, pending, response)).issued).toBe(true);
      await expectRefused(await postToAcs(ctx, pending, response), /already|replay|expired or is unknown/, { audited: false });
    });

    it('refuses a used assertion (same issuer and assertion ID) even inside a response to a new request', async () => {
      const used = await begin();
      const original = decodeXml(await attackerResponse(used, { signResponse: false }));
      expect((await postToAcs(ctx, used, encodeXml(original))).issued).toBe(true);
      // The IdP key signs the old assertion again for a new request: only the replay cache can tell.
      const second = await begin();
      const replayed = resign(
        edit(original, (doc) => {
          doc.documentElement!.setAttribute('InResponseTo', second.requestId);
          first(doc, SAML, 'SubjectConfirmationData').setAttribute('InResponseTo', second.requestId);
        }),
        idpKey,
      );
      await expectRefused(await postToAcs(ctx, second, encodeXml(replayed)), /already been used|replay/);
    });
  });

  describe('parser abuse', () => {
    let listener: Server;
    let hits = 0;
    beforeAll(async () => {
      listener = createServer((_req, res) => {
        hits++;
        res.end('ada@example.com');
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    it('refuses an external entity (XXE) and never fetches it', async () => {
      const pending = await begin();
      const { port } = listener.address() as AddressInfo;
      const xml = decodeXml(await attackerResponse(pending));
      const xxe =
        `<?xml version="1.0"?><!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "http://127.0.0.1:${port}/xxe">]>` +
        xml.replace(`>${ATTACKER}</saml:NameID>`, '>&xxe;</saml:NameID>');
      await expectRefused(await postToAcs(ctx, pending, encodeXml(xxe)), /DTD|entit/i);
      expect(hits).toBe(0);
    });

    it('refuses entity expansion (billion laughs) at once, without expanding', async () => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending));
      const entities = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('');
      const bomb = `<!DOCTYPE samlp:Response [${entities}]>` + xml.replace(`>${ATTACKER}</saml:NameID>`, '>&lol9;</saml:NameID>');
      const started = performance.now();
      await expectRefused(await postToAcs(ctx, pending, encodeXml(bomb)), /DTD|entit/i);
      // Expanding would build 10^9 "lol"s (3 GB): never within 5 s, even on an idle machine.
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('refuses a bare DOCTYPE declaration', async () => {
      const pending = await begin();
      const xml = `<!DOCTYPE Response>${decodeXml(await attackerResponse(pending))}`;
      await expectRefused(await postToAcs(ctx, pending, encodeXml(xml)), /DTD/);
    });

    it('refuses a SAMLResponse over 256 KB before parsing it', async () => {
      const pending = await begin();
      const padding = `<saml:Attribute Name="padding"><saml:AttributeValue>${'A'.repeat(300 * 1024)}</saml:AttributeValue></saml:Attribute>`;
      const big = await signedByIdp(pending, (doc) => {
        const statement = first(doc, SAML, 'AttributeStatement');
        const parsed = new DOMParser().parseFromString(`<r xmlns:saml="${SAML}">${padding}</r>`, 'text/xml');
        statement.appendChild(doc.importNode(parsed.documentElement!.firstChild!, true));
      });
      expect(big.length).toBeGreaterThan(256 * 1024);
      await expectRefused(await postToAcs(ctx, pending, big), /too large/);
    });

    it('refuses a request body over 1 MB with 413', async () => {
      const pending = await begin();
      const body = new URLSearchParams({ SAMLResponse: 'A'.repeat(1_100_000), RelayState: pending.relayState }).toString();
      // Its own connection: the server answers before reading the whole body and closes it.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          pending.acsUrl,
          {
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(413);
      // The sign-in it belonged to can still complete: nothing was issued for the oversized post.
      expect(await postToAcs(ctx, pending, await attackerResponse(pending))).toMatchObject({ issued: true, signedInAs: ATTACKER });
    });

    it('refuses a SAMLResponse that is not base64', async () => {
      const pending = await begin();
      await expectRefused(await postToAcs(ctx, pending, '<samlp:Response/>'), /base64/);
    });

    it('refuses a message that is not a SAML 2.0 Response', async () => {
      const pending = await begin();
      const xml = decodeXml(await attackerResponse(pending, { signResponse: false }));
      const renamed = xml.replace(/samlp:Response/g, 'samlp:ArtifactResponse');
      expect(renamed).toContain(SAMLP);
      await expectRefused(await postToAcs(ctx, pending, encodeXml(renamed)), /SAML|assertion|Response/i);
    });
  });
});

describe('IdP-initiated replay (legacy ACS, IdP-initiated sign-in turned on)', () => {
  it('accepts an unsolicited response once and refuses it the second time', async () => {
    await lanyard.services.accounts.setIdpInitiatedLogin(ctx.accountSid, true);
    try {
      const sp = legacyServiceProvider(lanyard.url, ctx.accountSid);
      const { SAMLResponse } = await idp.createResponse({ userId: ATTACKER, acsUrl: sp.acsUrl, audience: sp.entityId });
      const pending = { flow: 'legacy' as const, verifier: '', nonce: '' };
      const post = async () => readOutcome(ctx, pending, await postForm(sp.acsUrl, { SAMLResponse }));
      expect(await post()).toMatchObject({ issued: true, signedInAs: ATTACKER });
      await expectRefused(await post(), /already been used|replay/);
    } finally {
      await lanyard.services.accounts.setIdpInitiatedLogin(ctx.accountSid, false);
    }
  });

  it('still refuses the replay of a long-lived unsolicited assertion half an hour later (the replay cache outlives it)', async () => {
    // An account of its own: audit entries written half an hour "ahead" would read as the newest.
    const setup = await setupAccount(lanyard, idp);
    await lanyard.services.accounts.setMode(setup.account.sid, 'both');
    await lanyard.services.accounts.setIdpInitiatedLogin(setup.account.sid, true);
    const own: AcsContext = { lanyard, accountSid: setup.account.sid, connectionSid: setup.connection.sid };
    try {
      const sp = legacyServiceProvider(lanyard.url, own.accountSid);
      const { SAMLResponse } = await idp.createResponse({ userId: ATTACKER, acsUrl: sp.acsUrl, audience: sp.entityId, lifetimeSeconds: 3600 });
      const pending = { flow: 'legacy' as const, verifier: '', nonce: '' };
      expect(await readOutcome(own, pending, await postForm(sp.acsUrl, { SAMLResponse }))).toMatchObject({ issued: true });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 30 * 60_000 });
      await lanyard.services.storage.sweepExpired();
      const replay = await readOutcome(own, pending, await postForm(sp.acsUrl, { SAMLResponse }));
      expect(replay.issued).toBe(false);
      expect(replay.reason).toMatch(/already been used|replay/);
      expect(await lastAuditReason(own)).toMatch(/already been used/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses an unsolicited assertion whose bearer confirmation has expired, or that has no expiry at all', async () => {
    await lanyard.services.accounts.setIdpInitiatedLogin(ctx.accountSid, true);
    try {
      const sp = legacyServiceProvider(lanyard.url, ctx.accountSid);
      const pending = { flow: 'legacy' as const, verifier: '', nonce: '' };
      const unsolicited = async (change: (doc: Document) => void) => {
        const { SAMLResponse } = await idp.createResponse({ userId: ATTACKER, acsUrl: sp.acsUrl, audience: sp.entityId });
        return encodeXml(resign(edit(decodeXml(SAMLResponse), change), idpKey));
      };
      // Conditions still valid, bearer confirmation long expired: only the confirmation says "too late"
      // (SAML Profiles §4.1.4.3: the SP must check it, solicited or not).
      const expired = await unsolicited((doc) => {
        first(doc, SAML, 'SubjectConfirmationData').setAttribute('NotOnOrAfter', new Date(Date.now() - 3600_000).toISOString());
      });
      const late = await readOutcome(ctx, pending, await postForm(sp.acsUrl, { SAMLResponse: expired }));
      await expectRefused(late, /validity window|expired|NotOnOrAfter/i);
      // No end anywhere: it would stay valid (and replayable once forgotten by the replay cache) forever.
      const endless = await unsolicited((doc) => {
        first(doc, SAML, 'Conditions').removeAttribute('NotOnOrAfter');
        first(doc, SAML, 'SubjectConfirmationData').removeAttribute('NotOnOrAfter');
      });
      await expectRefused(await readOutcome(ctx, pending, await postForm(sp.acsUrl, { SAMLResponse: endless })), /NotOnOrAfter/);
      // Bounded Conditions, unbounded bearer confirmation: refused (SAML Profiles §4.1.4.2 requires the bound).
      const unbounded = await unsolicited((doc) => first(doc, SAML, 'SubjectConfirmationData').removeAttribute('NotOnOrAfter'));
      await expectRefused(await readOutcome(ctx, pending, await postForm(sp.acsUrl, { SAMLResponse: unbounded })), /NotOnOrAfter/);
    } finally {
      await lanyard.services.accounts.setIdpInitiatedLogin(ctx.accountSid, false);
    }
  });

  it('refuses an unsolicited response while IdP-initiated sign-in is off (login CSRF)', async () => {
    const sp = legacyServiceProvider(lanyard.url, ctx.accountSid);
    const { SAMLResponse } = await idp.createResponse({ userId: ATTACKER, acsUrl: sp.acsUrl, audience: sp.entityId });
    const outcome = await readOutcome(ctx, { flow: 'legacy', verifier: '', nonce: '' }, await postForm(sp.acsUrl, { SAMLResponse }));
    expect(outcome.issued).toBe(false);
    expect(outcome.reason).toMatch(/IdP-initiated sign-in is turned off/);
  });
});

describe('PostgreSQL smoke (the same checks do not depend on the storage backend)', () => {
  it('refuses wrapping, SHA-1, another issuer and a replay at both ACS endpoints on PostgreSQL', async () => {
    const pgLanyard = await startTestLanyard('postgres', { rateLimitLoginPerMinute: 10_000 });
    try {
      const setup = await setupAccount(pgLanyard, idp);
      await pgLanyard.services.accounts.setMode(setup.account.sid, 'both');
      const pg: AcsContext = { lanyard: pgLanyard, accountSid: setup.account.sid, connectionSid: setup.connection.sid };
      for (const flow of ACS_FLOWS) {
        const good = await beginSignIn(pg, flow);
        const response = await attackerResponse(good);
        expect(await postToAcs(pg, good, response)).toMatchObject({ issued: true, signedInAs: ATTACKER });
        expect((await postToAcs(pg, good, response)).issued).toBe(false);

        const wrapped = await beginSignIn(pg, flow);
        const xsw = XSW.XSW8!(decodeXml(await attackerResponse(wrapped, { signResponse: false })), VICTIM);
        expect(await postToAcs(pg, wrapped, encodeXml(xsw))).toMatchObject({ issued: false, reason: expect.stringMatching(/signature/) });

        const weak = await beginSignIn(pg, flow);
        const sha1 = encodeXml(
          resign(decodeXml(await attackerResponse(weak)), idpKey, { signatureAlgorithm: RSA_SHA1, digestAlgorithm: DIGEST_SHA1 }),
        );
        expect(await postToAcs(pg, weak, sha1)).toMatchObject({ issued: false, reason: expect.stringMatching(/SHA-1/) });

        const foreign = await beginSignIn(pg, flow);
        const otherIssuer = encodeXml(
          resign(decodeXml(await attackerResponse(foreign)).replaceAll(idp.entityId, 'https://sts.example.net/other-tenant/'), idpKey),
        );
        expect(await postToAcs(pg, foreign, otherIssuer)).toMatchObject({
          issued: false,
          reason: expect.stringMatching(/not by the configured IdP/),
        });
      }
    } finally {
      await pgLanyard.stop();
    }
  });
});
