import { DOMParser } from '@xmldom/xmldom';
import { createVerify, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import xmlenc from 'xml-encryption';
import { generateSigningCredentials, type SigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, pkcePair, postForm, postJson } from '../support/flows.ts';
import { ALGORITHMS, createEnterpriseIdp, readPostPage, type EnterpriseIdp, type ReadRequest } from '../support/samlify-idp.ts';

/**
 * SAML IdPs configured the way enterprise customers run them (issue 14): encrypted assertions
 * (Shibboleth's default; an option in Entra ID, Okta, ADFS), signed AuthnRequests
 * (WantAuthnRequestsSigned), HTTP-POST-only SSO endpoints. The IdP is samlify: it reads Lanyard's
 * published SP metadata, verifies Lanyard's request signatures and encrypts to Lanyard's key.
 */

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const ADA = { nameId: 'ada@example.com', email: 'ada@example.com', fullName: 'Ada Lovelace', roles: ['agent', 'supervisor'] };

describe.each(BACKENDS)('enterprise SAML IdPs on %s', (backend) => {
  let lanyard: TestLanyard;
  let idpKey: SigningCredentials;

  beforeAll(async () => {
    idpKey = await generateSigningCredentials('Enterprise IdP');
    lanyard = await startTestLanyard(backend, { rateLimitLoginPerMinute: 10_000 });
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  async function account(idp: EnterpriseIdp) {
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Enterprise');
    const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
    await accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(account.sid, DESKTOP_URL);
    return { accountSid: account.sid, connection };
  }

  async function spMetadata(connectionSid: string): Promise<string> {
    const response = await fetch(`${lanyard.url}/login/metadata?connection=${connectionSid}`);
    expect(response.status).toBe(200);
    return response.text();
  }

  /** Starts a Flex sign-in and follows Lanyard to the point where the IdP holds the request. */
  async function begin(connectionSid: string, extra: Record<string, string> = {}) {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/v1/Flex/Authorize', lanyard.url);
    const params = { ssoProfileSid: connectionSid, redirectUrl: DESKTOP_URL, state: 'st', nonce: 'n1', codeChallenge: challenge, ...extra };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status, await response.clone().text()).toBe(302);
    return { location: response.headers.get('location')!, verifier };
  }

  async function carried(location: string): Promise<{ url: string } | { fields: Record<string, string> }> {
    if (!location.startsWith(lanyard.url)) return { url: location };
    const page = await readPostPage(location);
    return { fields: page.fields };
  }

  /** Posts the IdP's answer to the ACS and redeems the code: who was signed in, or why not. */
  async function finish(response: { SAMLResponse: string; RelayState: string }, request: ReadRequest, connectionSid: string, verifier: string) {
    const acs = await postForm(request.acsUrl, response);
    expect(acs.status).toBe(303);
    const back = new URL(acs.headers.get('location')!);
    const code = back.searchParams.get('code');
    if (!code) return { signedInAs: null, reason: back.searchParams.get('error_description') ?? '' };
    const tokens = await postJson(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      grant_type: 'AuthorizationCode',
      sso_profile_sid: connectionSid,
      code,
      code_verifier: verifier,
      nonce: 'n1',
    });
    const info = tokens.body.token_info as { name_id: string; roles: string[] };
    return { signedInAs: info.name_id, roles: info.roles, reason: '' };
  }

  it('publishes an encryption and a signing certificate in the SP metadata', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey });
    const { connection } = await account(idp);
    const doc = new DOMParser().parseFromString(await spMetadata(connection.sid), 'text/xml');
    const uses = Array.from(doc.getElementsByTagNameNS(MD, 'KeyDescriptor')).map((k) => k.getAttribute('use'));
    expect(uses.sort()).toEqual(['encryption', 'signing']);
    expect(doc.getElementsByTagNameNS(DS, 'X509Certificate')).toHaveLength(2);
    expect(doc.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0]!.getAttribute('AuthnRequestsSigned')).toBe('false');
    // The private keys are sealed at rest: nothing PEM-like is stored in the clear.
    const stored = await lanyard.services.storage.list<{ sealedPrivateKey: string }>('sp_key', { accountSid: connection.accountSid });
    expect(stored).toHaveLength(2);
    for (const record of stored) expect(JSON.stringify(record.payload)).not.toContain('PRIVATE KEY');
  });

  for (const [name, data] of [
    ['AES-256-CBC', ALGORITHMS.data.AES_256],
    ['AES-128-GCM', ALGORITHMS.data.AES_128_GCM],
  ] as const) {
    it(`accepts an assertion encrypted with RSA-OAEP and ${name}, signature verified after decryption`, async () => {
      const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data, key: ALGORITHMS.key.RSA_OAEP_MGF1P } });
      const { connection } = await account(idp);
      const metadata = await spMetadata(connection.sid);
      const { location, verifier } = await begin(connection.sid);
      const request = await idp.readRequest(metadata, await carried(location));
      const response = await idp.respond(metadata, request, ADA);
      expect(Buffer.from(response.SAMLResponse, 'base64').toString()).toContain('EncryptedAssertion');
      const outcome = await finish(response, request, connection.sid, verifier);
      expect(outcome.reason).toBe('');
      expect(outcome.signedInAs).toBe('ada@example.com');
      expect(outcome.roles).toEqual(['agent', 'supervisor']);
    });
  }

  it('refuses RSA 1.5 key transport by name and says what to set at the IdP', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_1_5 } });
    const { connection } = await account(idp);
    const metadata = await spMetadata(connection.sid);
    const { location, verifier } = await begin(connection.sid);
    const request = await idp.readRequest(metadata, await carried(location));
    const outcome = await finish(await idp.respond(metadata, request, ADA), request, connection.sid, verifier);
    expect(outcome.signedInAs).toBeNull();
    expect(outcome.reason).toMatch(/RSA PKCS#1 v1\.5.*refused.*RSA-OAEP/);
    expect(outcome.reason).not.toMatch(/SHA-1/);
  });

  it('refuses an encrypted assertion whose inner signature is broken (signature rules apply after decryption)', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_OAEP_MGF1P } });
    const rogue = createEnterpriseIdp({
      credentials: await generateSigningCredentials('Rogue'),
      encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_OAEP_MGF1P },
    });
    const { connection } = await account(idp);
    const metadata = await spMetadata(connection.sid);
    const { location, verifier } = await begin(connection.sid);
    const request = await idp.readRequest(metadata, await carried(location));
    // Anyone can encrypt to the SP's public certificate; only the IdP's key makes the signature.
    const outcome = await finish(await rogue.respond(metadata, request, ADA), request, connection.sid, verifier);
    expect(outcome.signedInAs).toBeNull();
    expect(outcome.reason).toMatch(/could not be decrypted and verified.*signs with the certificate/);
  });

  it('gives no padding oracle: a tampered AES-CBC ciphertext reads the same whatever the plaintext it opens to', async () => {
    // The IdP signs the assertion only (the usual set-up), so nothing authenticates the ciphertext
    // before it is decrypted: each answer to a tampered byte must be the same refusal.
    const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_OAEP_MGF1P } });
    const { connection } = await account(idp);
    const metadata = await spMetadata(connection.sid);
    const first = await begin(connection.sid);
    const genuine = await idp.respond(metadata, await idp.readRequest(metadata, await carried(first.location)), ADA);
    const xml = Buffer.from(genuine.SAMLResponse, 'base64').toString('utf8');
    const values = [...xml.matchAll(/<(?:\w+:)?CipherValue>([^<]+)</g)].map((m) => m[1]!);
    const content = Buffer.from(values.at(-1)!, 'base64'); // the EncryptedData's value: IV, then CBC blocks
    const reasons = new Set<string>();
    for (let v = 0; v < 256; v++) {
      if (v === content[content.length - 17]) continue; // untouched: it would open and verify
      const tampered = Buffer.from(content);
      tampered[tampered.length - 17] = v; // the last byte of the next-to-last block: the padding of the last
      const { location, verifier } = await begin(connection.sid);
      const request = await idp.readRequest(metadata, await carried(location));
      const forged = xml.replace(values.at(-1)!, tampered.toString('base64'));
      const outcome = await finish(
        { SAMLResponse: Buffer.from(forged).toString('base64'), RelayState: request.relayState },
        request,
        connection.sid,
        verifier,
      );
      expect(outcome.signedInAs).toBeNull();
      reasons.add(outcome.reason);
    }
    expect([...reasons]).toHaveLength(1);
    expect([...reasons][0]).toMatch(/could not be decrypted and verified/);
    // 255 whole sign-ins: a ceiling for a loaded CI machine, not a performance bound.
  }, 180_000);

  it('rolls the encryption key over: both keys decrypt until the old one is retired, then the old one is named as the cause', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_OAEP_MGF1P } });
    const { connection } = await account(idp);
    const oldMetadata = await spMetadata(connection.sid);
    const [oldKey] = await lanyard.services.spKeys.keysOf(connection, 'encryption');
    const newKey = await lanyard.services.spKeys.rollover(connection, 'encryption');
    const rolled = new DOMParser().parseFromString(await spMetadata(connection.sid), 'text/xml');
    const encryption = Array.from(rolled.getElementsByTagNameNS(MD, 'KeyDescriptor')).filter((k) => k.getAttribute('use') === 'encryption');
    expect(encryption).toHaveLength(2);

    for (const encryptTo of [oldKey!.certificatePem, newKey.certificatePem]) {
      const { location, verifier } = await begin(connection.sid);
      const request = await idp.readRequest(oldMetadata, await carried(location));
      const outcome = await finish(await idp.respond(oldMetadata, request, ADA, { encryptTo }), request, connection.sid, verifier);
      expect(outcome.signedInAs).toBe('ada@example.com');
    }
    await expect(lanyard.services.spKeys.rollover(connection, 'encryption')).rejects.toThrow(/retire the old key/);

    await lanyard.services.spKeys.retire(connection, 'encryption');
    const { location, verifier } = await begin(connection.sid);
    const request = await idp.readRequest(oldMetadata, await carried(location));
    const outcome = await finish(
      await idp.respond(oldMetadata, request, ADA, { encryptTo: oldKey!.certificatePem }),
      request,
      connection.sid,
      verifier,
    );
    expect(outcome.signedInAs).toBeNull();
    expect(outcome.reason).toMatch(/could not be decrypted and verified.*encrypts to the encryption certificate in Lanyard's SP metadata/);
  });

  it('refuses Triple DES content encryption by name', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, encrypt: { data: ALGORITHMS.data.AES_256, key: ALGORITHMS.key.RSA_OAEP_MGF1P } });
    const { connection } = await account(idp);
    const metadata = await spMetadata(connection.sid);
    const { location, verifier } = await begin(connection.sid);
    const request = await idp.readRequest(metadata, await carried(location));
    const genuine = await idp.respond(metadata, request, ADA);
    // Re-encrypt the same signed assertion with 3DES, as an IdP configured for it would.
    const xml = Buffer.from(genuine.SAMLResponse, 'base64').toString();
    const [signingKey] = await lanyard.services.spKeys.keysOf(connection, 'encryption');
    const assertion = await new Promise<string>((resolve, reject) =>
      xmlenc.decrypt(
        /<saml:EncryptedAssertion[\s\S]*<\/saml:EncryptedAssertion>/.exec(xml)![0],
        { key: lanyard.services.secrets.open(signingKey!.sealedPrivateKey) },
        (e, r) => (e ? reject(e) : resolve(String(r))),
      ),
    );
    const tripleDes = await new Promise<string>((resolve, reject) =>
      xmlenc.encrypt(
        assertion,
        {
          rsa_pub: signingKey!.certificatePem,
          pem: signingKey!.certificatePem,
          encryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc',
          keyEncryptionAlgorithm: ALGORITHMS.key.RSA_OAEP_MGF1P as 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
          warnInsecureAlgorithm: false,
        },
        (e, r) => (e ? reject(e) : resolve(String(r))),
      ),
    );
    const swapped = xml.replace(/(<saml:EncryptedAssertion[^>]*>)[\s\S]*(<\/saml:EncryptedAssertion>)/, `$1${tripleDes}$2`);
    const outcome = await finish({ ...genuine, SAMLResponse: Buffer.from(swapped).toString('base64') }, request, connection.sid, verifier);
    expect(outcome.reason).toMatch(/Triple DES.*AES-256-GCM/);
  });

  it('signs Redirect-binding AuthnRequests (query signature) when the IdP metadata asks, and samlify verifies them', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, wantAuthnRequestsSigned: true });
    const { connection } = await account(idp);
    expect(connection.saml?.wantAuthnRequestsSigned).toBe(true);
    const metadata = await spMetadata(connection.sid);
    expect(metadata).toContain('AuthnRequestsSigned="true"');
    const { location, verifier } = await begin(connection.sid);
    const url = new URL(location);
    expect(url.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const request = await idp.readRequest(metadata, { url: location });
    expect(request.signed).toBe(true);
    expect(await finish(await idp.respond(metadata, request, ADA), request, connection.sid, verifier)).toMatchObject({
      reason: '',
      signedInAs: ADA.nameId,
    });

    // A signing-key rollover: both certificates are published, and the new key signs at once.
    const next = await lanyard.services.spKeys.rollover(connection, 'signing');
    const rolled = new DOMParser().parseFromString(await spMetadata(connection.sid), 'text/xml');
    expect(Array.from(rolled.getElementsByTagNameNS(MD, 'KeyDescriptor')).filter((k) => k.getAttribute('use') === 'signing')).toHaveLength(2);
    const after = new URL((await begin(connection.sid)).location);
    const signedOctets = after.search
      .slice(1)
      .split('&')
      .filter((p) => !p.startsWith('Signature='))
      .join('&');
    const verifier2 = createVerify('RSA-SHA256').update(signedOctets);
    expect(verifier2.verify(new X509Certificate(next.certificatePem).publicKey, after.searchParams.get('Signature')!, 'base64')).toBe(true);

    // The control: a tampered request fails samlify's check, so the check above was real.
    const tampered = new URL(location);
    tampered.searchParams.set('RelayState', 'lr_forged');
    await expect(idp.readRequest(metadata, { url: tampered.toString() })).rejects.toThrow();
  });

  it('sends AuthnRequests to a POST-only IdP through an auto-submitting form the CSP allows, signed (enveloped) when asked', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey, bindings: ['post'], wantAuthnRequestsSigned: true });
    const { connection } = await account(idp);
    expect(connection.saml?.ssoBinding).toBe('post');
    const metadata = await spMetadata(connection.sid);
    const { location, verifier } = await begin(connection.sid);
    expect(location.startsWith(`${lanyard.url}/login/saml/post?request=`)).toBe(true);
    const page = await readPostPage(location);
    expect(page.action).toBe(idp.ssoUrl);
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(page.html).toContain(`<script nonce="${nonce}">`);
    expect(page.csp).toContain('form-action https://idp.example.test');
    // The POST binding carries the request undeflated, with its signature inside.
    const requestXml = Buffer.from(page.fields.SAMLRequest!, 'base64').toString('utf8');
    expect(requestXml).toMatch(/^<\?xml|^<samlp:AuthnRequest/);
    const request = await idp.readRequest(metadata, { fields: page.fields });
    expect(request.signed).toBe(true);
    expect(await finish(await idp.respond(metadata, request, ADA), request, connection.sid, verifier)).toMatchObject({
      reason: '',
      signedInAs: ADA.nameId,
    });
    // The staged form is used once.
    expect((await fetch(location)).status).toBe(401);
  });

  it('refuses a NameID too long to key a user alike on every backend, with 45050 naming the fix, and signs the next user in', async () => {
    const idp = createEnterpriseIdp({ credentials: idpKey });
    const { connection } = await account(idp);
    const metadata = await spMetadata(connection.sid);
    // Random letters: PostgreSQL compresses a repeated one under its index limit.
    const long = Array.from({ length: 2100 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[(i * 7 + (i >> 3)) % 26]).join('');
    for (const [nameId, expected] of [
      [
        `${long}@example.com`,
        /unique id \(SAML NameID or OpenID Connect sub\) cannot be used: it is 2,112 bytes long in UTF-8 \(at most 2,000\)\. At the IdP, send a persistent or emailAddress NameID \(SAML\)/,
      ],
      [ADA.nameId, null],
    ] as const) {
      const { location, verifier } = await begin(connection.sid);
      const request = await idp.readRequest(metadata, await carried(location));
      const outcome = await finish(await idp.respond(metadata, request, { ...ADA, nameId }), request, connection.sid, verifier);
      if (expected) expect(outcome).toMatchObject({ signedInAs: null, reason: expect.stringMatching(expected) });
      else expect(outcome).toMatchObject({ signedInAs: ADA.nameId, reason: '' });
    }
    expect(
      (await lanyard.services.storage.list('user', { accountSid: connection.accountSid })).map((r) => (r.payload as { uniqueId: string }).uniqueId),
    ).toEqual([ADA.nameId]);
  });
});
