import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_USERS, generateSigningCredentials, loginHeadless, parseAutoPostForm, startDevIdp, type DevIdp, type DevUser } from './index.ts';

// Lanyard's SPs as the IdP sees them (SPEC: enhanced SSO step 2, legacy SSO step 2). Nothing
// listens on port 9: the tests validate the IdP's answers with node-saml, a SAML SP library
// independent of both the IdP (samlify) and Lanyard's own response checks.
const connection = 'JQ' + randomBytes(16).toString('hex');
const account = 'AC' + randomBytes(16).toString('hex');
const ENHANCED = { entityId: `urn:flex:${connection}`, acsUrl: `http://127.0.0.1:9/login/callback?connection=${connection}` };
const LEGACY = { entityId: `http://127.0.0.1:9/v1/Accounts/${account}/saml2/metadata`, acsUrl: `http://127.0.0.1:9/v1/Accounts/${account}/saml2` };

const USERS: DevUser[] = [
  ...DEFAULT_USERS,
  { id: 'lin@example.com', full_name: 'Lin <Supervisor> & "Co"', email: 'lin@example.com', roles: ['supervisor'], password: 'correct horse' },
  { id: 'nobody@example.com', full_name: 'No Roles', email: 'nobody@example.com', roles: [] },
];

let idp: DevIdp;
beforeAll(async () => {
  idp = await startDevIdp({ port: 0, users: USERS });
});
afterAll(() => idp.close());

/** An SP's side of the exchange: node-saml, configured with the entity ID, ACS URL and checks of a Lanyard connection. */
function serviceProvider(sp: { entityId: string; acsUrl: string }, overrides: Partial<SamlConfig> = {}) {
  return new SAML({
    entryPoint: idp.ssoUrl,
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    audience: sp.entityId,
    idpCert: idp.certificatePem,
    idpIssuer: idp.entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    validateInResponseTo: ValidateInResponseTo.never,
    ...overrides,
  });
}

async function signIn(saml: SAML, userId: string, relayState = 'state-' + randomBytes(4).toString('hex')) {
  const form = await loginHeadless(idp, await saml.getAuthorizeUrlAsync(relayState, undefined, {}), userId);
  return { form, relayState };
}

const decode = (samlResponse: string) => Buffer.from(samlResponse, 'base64').toString('utf8');

describe('SP-initiated sign-in (HTTP-Redirect in, HTTP-POST out)', () => {
  it('answers an enhanced SSO AuthnRequest with a response node-saml accepts, attributes included', async () => {
    const saml = serviceProvider(ENHANCED);
    const { form, relayState } = await signIn(saml, 'ada@example.com');
    expect(form.action).toBe(ENHANCED.acsUrl);
    expect(form.fields.RelayState).toBe(relayState);

    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse!, RelayState: form.fields.RelayState! });
    expect(profile).toMatchObject({
      issuer: idp.entityId,
      nameID: 'ada@example.com',
      nameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      full_name: 'Ada Lovelace',
      email: 'ada@example.com',
      roles: ['admin', 'supervisor', 'agent'],
    });
    expect(profile!.attributes).toEqual({ full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'supervisor', 'agent'] });
  });

  it('signs both the Response and the Assertion, addresses the ACS and the SP, and is valid ±5 minutes', async () => {
    const { form } = await signIn(serviceProvider(ENHANCED), 'grace@example.com');
    const xml = decode(form.fields.SAMLResponse!);
    expect(xml.match(/<ds:Signature\b/g)).toHaveLength(2);
    expect(xml).toContain(`Destination="${ENHANCED.acsUrl.replace('&', '&amp;')}"`);
    expect(xml).toContain(`Recipient="${ENHANCED.acsUrl}"`);
    expect(xml).toContain(`<saml:Audience>${ENHANCED.entityId}</saml:Audience>`);
    expect(xml).toContain('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const notBefore = Date.parse(/NotBefore="([^"]+)"/.exec(xml)![1]!);
    const notOnOrAfter = Date.parse(/Conditions [^>]*NotOnOrAfter="([^"]+)"/.exec(xml)![1]!);
    expect(Math.round((Date.now() - notBefore) / 60_000)).toBe(5);
    expect(Math.round((notOnOrAfter - Date.now()) / 60_000)).toBe(5);
  });

  it('answers InResponseTo the request, so node-saml can insist on it (and refuse a replay)', async () => {
    const saml = serviceProvider(ENHANCED, { validateInResponseTo: ValidateInResponseTo.always });
    const { form } = await signIn(saml, 'grace@example.com');
    const { profile } = await saml.validatePostResponseAsync(form.fields);
    expect(profile).toMatchObject({ nameID: 'grace@example.com', roles: ['supervisor', 'agent'] });
    await expect(saml.validatePostResponseAsync(form.fields)).rejects.toThrow(/InResponseTo/);
  });

  it('serves the legacy SP (…/saml2/metadata, ACS …/saml2) the same way; a single role arrives as a string', async () => {
    const saml = serviceProvider(LEGACY);
    const { form } = await signIn(saml, 'alan@example.com');
    expect(form.action).toBe(LEGACY.acsUrl);
    const { profile } = await saml.validatePostResponseAsync(form.fields);
    expect(profile).toMatchObject({ nameID: 'alan@example.com', full_name: 'Alan Turing', roles: 'agent' });
  });

  it('leaves the roles attribute out for a user without roles', async () => {
    const saml = serviceProvider(ENHANCED);
    const { profile } = await saml.validatePostResponseAsync((await signIn(saml, 'nobody@example.com')).form.fields);
    expect(profile!.attributes).toEqual({ full_name: 'No Roles', email: 'nobody@example.com' });
  });

  it('fails validation against a different certificate', async () => {
    const other = await generateSigningCredentials('Another IdP');
    const { form } = await signIn(serviceProvider(ENHANCED), 'ada@example.com');
    await expect(serviceProvider(ENHANCED, { idpCert: other.certificatePem }).validatePostResponseAsync(form.fields)).rejects.toThrow(/signature/i);
  });

  it('accepts the HTTP-POST binding at /sso too, as its metadata says', async () => {
    const saml = serviceProvider(ENHANCED);
    const request = parseAutoPostForm(await saml.getAuthorizeFormAsync('posted'));
    expect(request.action).toBe(idp.ssoUrl);
    const page = await fetch(idp.ssoUrl, { method: 'POST', body: new URLSearchParams(request.fields) });
    const pending = parseAutoPostForm(await page.text());
    const login = await fetch(new URL(pending.action, idp.url), {
      method: 'POST',
      body: new URLSearchParams({ ...pending.fields, user: 'ada@example.com' }),
    });
    const form = parseAutoPostForm(await login.text());
    expect(form.fields.RelayState).toBe('posted');
    await expect(saml.validatePostResponseAsync(form.fields)).resolves.toMatchObject({ profile: { nameID: 'ada@example.com' } });
  });
});

describe('the sign-in page', () => {
  it('lists the users as labelled buttons in a form to /sso/login, HTML-escaped, and says it trusts any SP', async () => {
    const url = await serviceProvider(ENHANCED).getAuthorizeUrlAsync('<relay>"', undefined, {});
    const response = await fetch(url);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await response.text();
    expect(html).toContain('<form method="post" action="/sso/login">');
    expect(html).toContain('aria-label="Sign in as Ada Lovelace"');
    expect(html).toContain('Lin &#60;Supervisor&#62; &#38; &#34;Co&#34;');
    expect(html).not.toContain('<Supervisor>');
    expect(html).toContain('<label for="password">');
    expect(html).toMatch(/answers any service provider/);
    expect(parseAutoPostForm(html).fields.RelayState).toBe('<relay>"');
  });

  it('asks for the password of a user that has one, and refuses a wrong one', async () => {
    const saml = serviceProvider(ENHANCED);
    const pending = parseAutoPostForm(await (await fetch(await saml.getAuthorizeUrlAsync('r', undefined, {}))).text());
    const wrong = await fetch(new URL('/sso/login', idp.url), {
      method: 'POST',
      body: new URLSearchParams({ ...pending.fields, user: 'lin@example.com', password: 'nope' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('role="alert">Wrong password');
    // loginHeadless types the password from the user's definition.
    const { form } = await signIn(saml, 'lin@example.com');
    await expect(saml.validatePostResponseAsync(form.fields)).resolves.toMatchObject({ profile: { full_name: 'Lin <Supervisor> & "Co"' } });
  });

  it('posts the response with a form that also works without JavaScript', async () => {
    const url = await serviceProvider(ENHANCED).getAuthorizeUrlAsync('r', undefined, {});
    const pending = parseAutoPostForm(await (await fetch(url)).text());
    const html = await (
      await fetch(new URL('/sso/login', idp.url), { method: 'POST', body: new URLSearchParams({ ...pending.fields, user: 'ada@example.com' }) })
    ).text();
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    expect(html).toContain('<button type="submit">Continue</button>');
    expect(html).toContain(`action="${ENHANCED.acsUrl.replace('&', '&#38;')}"`);
  });

  it('refuses an AuthnRequest carrying a DTD', async () => {
    const xml = `<!DOCTYPE x [<!ENTITY a "aaaa">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>`;
    const response = await fetch(`${idp.ssoUrl}?SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('carries a DTD');
  });

  it('answers an unreadable SAMLRequest with an HTML error page', async () => {
    const response = await fetch(`${idp.ssoUrl}?SAMLRequest=bm90IGEgcmVxdWVzdA%3D%3D`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(await response.text()).toContain('not a readable AuthnRequest');
  });
});

describe('IdP-initiated (unsolicited) responses', () => {
  it('createUnsolicitedResponse validates with node-saml when InResponseTo is not required', async () => {
    const response = await idp.createUnsolicitedResponse({ userId: 'grace@example.com', acsUrl: LEGACY.acsUrl, audience: LEGACY.entityId });
    expect(decode(response.SAMLResponse)).not.toContain('InResponseTo');
    const { profile } = await serviceProvider(LEGACY).validatePostResponseAsync({ SAMLResponse: response.SAMLResponse });
    expect(profile).toMatchObject({ nameID: 'grace@example.com', roles: ['supervisor', 'agent'] });
  });

  it('uses the registered ACS, also from the IdP home page link (/sso/initiate)', async () => {
    idp.registerServiceProvider(ENHANCED);
    const response = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', audience: ENHANCED.entityId, relayState: 'home' });
    expect(response.RelayState).toBe('home');
    await expect(serviceProvider(ENHANCED).validatePostResponseAsync({ SAMLResponse: response.SAMLResponse })).resolves.toBeTruthy();

    const home = await (await fetch(idp.url)).text();
    const link = /href="(\/sso\/initiate\?sp=[^"]+)"/.exec(home)![1]!;
    const form = await loginHeadless(idp, new URL(link.replace(/&#38;/g, '&'), idp.url).href, 'alan@example.com');
    expect(form.action).toBe(ENHANCED.acsUrl);
    await expect(serviceProvider(ENHANCED).validatePostResponseAsync(form.fields)).resolves.toMatchObject({
      profile: { nameID: 'alan@example.com' },
    });
  });

  it('lets a test set another Destination (Recipient stays the ACS)', async () => {
    const response = await idp.createResponse({
      userId: 'ada@example.com',
      acsUrl: LEGACY.acsUrl,
      audience: LEGACY.entityId,
      destination: 'http://127.0.0.1:9/elsewhere',
    });
    const xml = decode(response.SAMLResponse);
    expect(xml).toContain('Destination="http://127.0.0.1:9/elsewhere"');
    expect(xml).toContain(`Recipient="${LEGACY.acsUrl}"`);
  });

  it('refuses an unsolicited response for an SP it knows no ACS for', async () => {
    await expect(idp.createUnsolicitedResponse({ userId: 'ada@example.com', audience: 'urn:flex:unknown' })).rejects.toThrow(/no ACS URL/);
  });
});

describe('signing options', () => {
  const respond = (options: { signResponse?: boolean; signAssertion?: boolean }) =>
    idp.createResponse({ userId: 'ada@example.com', acsUrl: ENHANCED.acsUrl, audience: ENHANCED.entityId, ...options });

  it('signs only the Assertion when asked (accepted by an SP that requires just that)', async () => {
    const { SAMLResponse } = await respond({ signResponse: false });
    expect(decode(SAMLResponse).match(/<ds:Signature\b/g)).toHaveLength(1);
    await expect(serviceProvider(ENHANCED, { wantAuthnResponseSigned: false }).validatePostResponseAsync({ SAMLResponse })).resolves.toBeTruthy();
    await expect(serviceProvider(ENHANCED).validatePostResponseAsync({ SAMLResponse })).rejects.toThrow(/signature/i);
  });

  it('can send no signature at all (for tests that an SP refuses it)', async () => {
    const { SAMLResponse } = await respond({ signResponse: false, signAssertion: false });
    expect(decode(SAMLResponse)).not.toContain('Signature');
    await expect(serviceProvider(ENHANCED, { wantAuthnResponseSigned: false }).validatePostResponseAsync({ SAMLResponse })).rejects.toThrow(
      /signature/i,
    );
  });

  it('can sign with RSA-SHA512', async () => {
    const strong = await startDevIdp({ signatureAlgorithm: 'sha512', credentials: await generateSigningCredentials() });
    try {
      const { SAMLResponse } = await strong.createResponse({ userId: 'ada@example.com', acsUrl: ENHANCED.acsUrl, audience: ENHANCED.entityId });
      expect(decode(SAMLResponse)).toContain('http://www.w3.org/2001/04/xmldsig-more#rsa-sha512');
      await expect(
        serviceProvider(ENHANCED, { idpCert: strong.certificatePem, idpIssuer: strong.entityId }).validatePostResponseAsync({ SAMLResponse }),
      ).resolves.toBeTruthy();
    } finally {
      await strong.close();
    }
  });
});

describe('the IdP itself', () => {
  it('publishes metadata with its signing certificate and both SSO bindings', async () => {
    const served = await (await fetch(`${idp.url}/metadata`)).text();
    expect(served).toBe(idp.metadataXml);
    expect(served).toContain(`entityID="${idp.entityId}"`);
    const certificateBody = idp.certificatePem.replace(/-----[^-]+-----|\s/g, '');
    expect(served.replace(/\s/g, '')).toContain(certificateBody);
    expect(served).toContain(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${idp.ssoUrl}"`);
    expect(served).toContain(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${idp.ssoUrl}"`);
  });

  it('starts without samlify printing anything (no "missing endpoint of SingleLogoutService")', async () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    try {
      const quiet = await startDevIdp({ port: 0 });
      await quiet.close();
      expect(warn).not.toHaveBeenCalled();
      expect(log).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  it('keeps a fixed key and certificate across restarts', async () => {
    const credentials = await generateSigningCredentials();
    const first = await startDevIdp({ credentials });
    await first.close();
    const second = await startDevIdp({ credentials });
    await second.close();
    expect(second.certificatePem).toBe(first.certificatePem);
  });

  it('listens on loopback only', async () => {
    await expect(startDevIdp({ host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
  });
});
