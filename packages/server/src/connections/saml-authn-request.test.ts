import { createVerify, X509Certificate } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials, type SigningCredentials } from '../../../demo/src/dev-idp/index.ts';
import { authnRequestXml, postBindingFields, redirectBindingUrl, RSA_SHA256, type AuthnRequestContent } from './saml-authn-request.ts';

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

const CONTENT: AuthnRequestContent = {
  id: '_r1',
  issueInstant: '2026-12-06T05:00:00.000Z',
  destination: 'https://idp.example.test/sso?tenant=a&b',
  // Outside text an admin typed: every character XML reserves.
  issuer: `https://sso.example.test/saml/<"Ops" & 'Co'>`,
  acsUrl: 'https://sso.example.test/login/saml/acs?connection=JS1&x="y"',
  forceAuthn: false,
};

/** The SP's signing key and certificate, as sp-keys.ts makes them (RSA-2048, self-signed). */
let key: SigningCredentials;
beforeAll(async () => {
  key = await generateSigningCredentials('SP signing');
});

const parse = (xml: string) => {
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => undefined, error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) },
  }).parseFromString(xml, 'text/xml');
  expect(errors).toEqual([]);
  return doc.documentElement!;
};
const elementChildren = (element: Element) => Array.from(element.childNodes).filter((n): n is Element => n.nodeType === 1);

describe('AuthnRequest (SAML Core §3.4.1)', () => {
  it('is well-formed XML saying exactly what it was given, reserved characters included', () => {
    const root = parse(authnRequestXml(CONTENT));
    expect([root.namespaceURI, root.localName]).toEqual([SAMLP, 'AuthnRequest']);
    expect(root.getAttribute('ID')).toBe('_r1');
    expect(root.getAttribute('Version')).toBe('2.0');
    expect(root.getAttribute('IssueInstant')).toBe(CONTENT.issueInstant);
    expect(root.getAttribute('Destination')).toBe(CONTENT.destination);
    expect(root.getAttribute('AssertionConsumerServiceURL')).toBe(CONTENT.acsUrl);
    expect(root.getAttribute('ProtocolBinding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(root.hasAttribute('ForceAuthn')).toBe(false);
    const [issuer, policy, ...rest] = elementChildren(root);
    expect([issuer?.namespaceURI, issuer?.localName, issuer?.textContent]).toEqual([SAML, 'Issuer', CONTENT.issuer]);
    expect([policy?.namespaceURI, policy?.localName, policy?.getAttribute('AllowCreate'), policy?.hasAttribute('Format')]).toEqual([
      SAMLP,
      'NameIDPolicy',
      'true',
      false,
    ]);
    expect(rest).toEqual([]);
  });

  it('asks for ForceAuthn only when the sign-in must be fresh', () => {
    expect(parse(authnRequestXml({ ...CONTENT, forceAuthn: true })).getAttribute('ForceAuthn')).toBe('true');
  });
});

describe('HTTP-Redirect binding (SAML Bindings §3.4.4)', () => {
  it("carries the request deflated, keeps the SSO URL's own parameters and replaces the binding's", async () => {
    const xml = authnRequestXml(CONTENT);
    const url = new URL(await redirectBindingUrl('https://idp.example.test/sso?tenant=a%20b&SAMLRequest=stale&Signature=old', xml, 'lr_state'));
    expect([...url.searchParams.keys()]).toEqual(['tenant', 'SAMLRequest', 'RelayState']);
    expect(url.searchParams.get('tenant')).toBe('a b');
    expect(inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')).toBe(xml);
    expect(url.searchParams.get('RelayState')).toBe('lr_state');
  });

  it('signs exactly the octets of SAMLRequest, RelayState and SigAlg as they appear in the URL (§3.4.4.1)', async () => {
    const location = await redirectBindingUrl('https://idp.example.test/sso?tenant=a', authnRequestXml(CONTENT), 'lr_state', key);
    const url = new URL(location);
    expect([...url.searchParams.keys()]).toEqual(['tenant', 'SAMLRequest', 'RelayState', 'SigAlg', 'Signature']);
    expect(url.searchParams.get('SigAlg')).toBe(RSA_SHA256);
    // As an IdP reads it: the raw query, not a re-encoding of the decoded values.
    const octets = /(SAMLRequest=[^&]*&RelayState=[^&]*&SigAlg=[^&]*)&Signature=/.exec(location)![1]!;
    const publicKey = new X509Certificate(key.certificatePem).publicKey;
    const signature = url.searchParams.get('Signature')!;
    expect(createVerify('RSA-SHA256').update(octets).verify(publicKey, signature, 'base64')).toBe(true);
    // The control: another RelayState does not verify with the same signature.
    expect(createVerify('RSA-SHA256').update(octets.replace('lr_state', 'lr_other')).verify(publicKey, signature, 'base64')).toBe(false);
  });

  it("signs what the URL carries even for characters the URL parser would encode again (a RelayState with ' ( ) ! *)", async () => {
    const relayState = "it's (a) test! *";
    const location = await redirectBindingUrl('https://idp.example.test/sso', authnRequestXml(CONTENT), relayState, key);
    expect(new URL(location).searchParams.get('RelayState')).toBe(relayState);
    const octets = /(SAMLRequest=[^&]*&RelayState=[^&]*&SigAlg=[^&]*)&Signature=/.exec(location)![1]!;
    const publicKey = new X509Certificate(key.certificatePem).publicKey;
    expect(createVerify('RSA-SHA256').update(octets).verify(publicKey, new URL(location).searchParams.get('Signature')!, 'base64')).toBe(true);
  });
});

describe('HTTP-POST binding (SAML Bindings §3.5.4)', () => {
  it('carries the request base64-encoded, not deflated, with the RelayState', async () => {
    const xml = authnRequestXml(CONTENT);
    const fields = await postBindingFields(xml, 'lr_state');
    expect(Object.keys(fields)).toEqual(['SAMLRequest', 'RelayState']);
    expect(Buffer.from(fields.SAMLRequest!, 'base64').toString('utf8')).toBe(xml);
    expect(fields.RelayState).toBe('lr_state');
  });

  it('signs it enveloped, right after its Issuer, with a signature xml-crypto verifies with the certificate and refuses once tampered', async () => {
    const fields = await postBindingFields(authnRequestXml(CONTENT), 'lr_state', key);
    const signed = Buffer.from(fields.SAMLRequest!, 'base64').toString('utf8');
    const root = parse(signed);
    expect(elementChildren(root).map((e) => `${e.namespaceURI} ${e.localName}`)).toEqual([
      `${SAML} Issuer`,
      `${DS} Signature`,
      `${SAMLP} NameIDPolicy`,
    ]);
    const signature = elementChildren(root)[1]!;
    const check = (xml: string) => {
      const verifier = new SignedXml({ publicCert: key.certificatePem });
      verifier.loadSignature(signature);
      try {
        return verifier.checkSignature(xml);
      } catch {
        return false; // some failures are thrown, others returned
      }
    };
    expect(check(signed)).toBe(true);
    expect(signature.getElementsByTagNameNS(DS, 'SignatureMethod')[0]?.getAttribute('Algorithm')).toBe(RSA_SHA256);
    expect(signature.getElementsByTagNameNS(DS, 'X509Certificate')[0]?.textContent).toBe(key.certificatePem.replace(/-----[^-]+-----|\s/g, ''));
    expect(check(signed.replace('ID="_r1"', 'ID="_r1" ForceAuthn="true"'))).toBe(false);
  });

  it('keeps tab, LF and CR in attribute values as character references (a parser would turn literal ones into spaces)', () => {
    const root = parse(authnRequestXml({ ...CONTENT, acsUrl: 'https://sso.example.test/a\tb\nc\rd' }));
    expect(root.getAttribute('AssertionConsumerServiceURL')).toBe('https://sso.example.test/a\tb\nc\rd');
  });
});
