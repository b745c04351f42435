import { createSign } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import type { SpKeyMaterial } from './sp-keys.ts';
import { escapeXml } from './xml-text.ts';

/**
 * The AuthnRequest (SAML Core §3.4.1) and how the browser carries it to the IdP (SAML Bindings
 * §3.4 HTTP-Redirect, §3.5 HTTP-POST). Built here, from a fixed template, rather than by a SAML
 * library: the request is a handful of attributes, and the libraries that build it (node-saml)
 * load the whole XML stack (xmldom, xpath, xml-crypto, xml-encryption, xmlbuilder) on the main
 * thread, which held every fresh node longer before `/readyz` (the alternating A/B of
 * docs/benchmarks.md's twenty-fifth round: 10–14 % of the time to ready by the medians). Only an enveloped signature (a signed HTTP-POST request) needs XML
 * Signature; it is made by xml-crypto, loaded on that first use.
 */

const SAMLP_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const HTTP_POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
/** XML Signature algorithm identifiers (RFC 6931 §2.3.2, §2.1.3; XML-DSig §6.6.4; Exclusive C14N). */
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const EXCLUSIVE_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
/** The query parameters the HTTP-Redirect binding owns (§3.4.4.1); an SSO URL's own are replaced. */
const REDIRECT_PARAMETERS = ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'] as const;

const deflateRawAsync = promisify(deflateRaw);

/**
 * A query value percent-encoded as RFC 3986 §2.3 leaves it (unreserved characters only): unlike
 * encodeURIComponent, `! ' ( ) *` are encoded too, so that the URL parser never re-encodes what
 * was signed (it encodes `'` in a query), and the IdP reads exactly the signed octets.
 */
const encodeQueryValue = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** What an AuthnRequest says. */
export interface AuthnRequestContent {
  /** The request's ID (xsd:ID: starts with a letter or `_`); the Response names it in InResponseTo. */
  id: string;
  /** IssueInstant, ISO 8601 UTC. */
  issueInstant: string;
  /** Destination: the IdP's SSO URL this request is sent to. */
  destination: string;
  /** Our SP entity ID (saml:Issuer). */
  issuer: string;
  /** AssertionConsumerServiceURL: where the IdP posts its Response (HTTP-POST binding). */
  acsUrl: string;
  /** `ForceAuthn="true"`: the IdP must authenticate the user afresh (OIDC `prompt=login`, `max_age`). */
  forceAuthn: boolean;
}

/**
 * The AuthnRequest's XML: Issuer, then (signed HTTP-POST only) the enveloped ds:Signature, then
 * `NameIDPolicy AllowCreate="true"` with no Format (the IdP's configured NameID); no
 * RequestedAuthnContext (the IdP's default authentication), as the schema orders them.
 */
export function authnRequestXml(content: AuthnRequestContent): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="${SAMLP_NS}" ID="${escapeXml(content.id)}" Version="2.0" IssueInstant="${escapeXml(content.issueInstant)}"` +
    ` ProtocolBinding="${HTTP_POST_BINDING}" Destination="${escapeXml(content.destination)}"${content.forceAuthn ? ' ForceAuthn="true"' : ''}` +
    ` AssertionConsumerServiceURL="${escapeXml(content.acsUrl)}">` +
    `<saml:Issuer xmlns:saml="${SAML_NS}">${escapeXml(content.issuer)}</saml:Issuer>` +
    `<samlp:NameIDPolicy AllowCreate="true"/>` +
    `</samlp:AuthnRequest>`
  );
}

/**
 * The HTTP-Redirect binding (SAML Bindings §3.4.4): the request DEFLATEd (RFC 1951, raw) and
 * base64-encoded as `SAMLRequest`, then `RelayState`; when `signing` is given, `SigAlg` (RSA-SHA256)
 * and `Signature`, the RSA-SHA256 signature over exactly the octets
 * `SAMLRequest=…&RelayState=…&SigAlg=…` as they appear in the URL (§3.4.4.1). Parameters of the
 * same names already in `ssoUrl` are replaced; its other parameters are kept.
 * @throws TypeError when `ssoUrl` is not a URL; Error from node:crypto when the key does not parse.
 */
export async function redirectBindingUrl(ssoUrl: string, xml: string, relayState: string, signing?: SpKeyMaterial['signing']): Promise<string> {
  const url = new URL(ssoUrl);
  for (const name of REDIRECT_PARAMETERS) url.searchParams.delete(name);
  const parameters: Array<[string, string]> = [['SAMLRequest', (await deflateRawAsync(xml)).toString('base64')]];
  if (relayState !== '') parameters.push(['RelayState', relayState]);
  if (signing) parameters.push(['SigAlg', RSA_SHA256]);
  let query = parameters.map(([name, value]) => `${name}=${encodeQueryValue(value)}`).join('&');
  if (signing) {
    const signature = createSign('RSA-SHA256').update(query).sign(signing.privateKeyPem, 'base64');
    query += `&Signature=${encodeQueryValue(signature)}`;
  }
  url.search = url.search === '' ? query : `${url.search.slice(1)}&${query}`;
  return url.toString();
}

/**
 * The HTTP-POST binding's form fields (SAML Bindings §3.5.4): the request base64-encoded, not
 * deflated, as `SAMLRequest`, and `RelayState`. With `signing`, the request carries an enveloped
 * XML Signature (RSA-SHA256, SHA-256 digest, Exclusive C14N) right after its Issuer, with the
 * signing certificate in KeyInfo (SAML Core §5.4).
 * @throws Error from xml-crypto or node:crypto when the key does not parse.
 */
export async function postBindingFields(xml: string, relayState: string, signing?: SpKeyMaterial['signing']): Promise<Record<string, string>> {
  const request = signing ? await signEnveloped(xml, signing) : xml;
  return { SAMLRequest: Buffer.from(request, 'utf8').toString('base64'), ...(relayState === '' ? {} : { RelayState: relayState }) };
}

async function signEnveloped(xml: string, signing: SpKeyMaterial['signing']): Promise<string> {
  const { SignedXml } = await import('xml-crypto');
  const root = `/*[local-name(.)='AuthnRequest' and namespace-uri(.)='${SAMLP_NS}']`;
  const signature = new SignedXml({
    privateKey: signing.privateKeyPem,
    publicCert: signing.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXCLUSIVE_C14N,
  });
  signature.addReference({ xpath: root, transforms: [ENVELOPED_SIGNATURE, EXCLUSIVE_C14N], digestAlgorithm: SHA256 });
  signature.computeSignature(xml, {
    location: { reference: `${root}/*[local-name(.)='Issuer' and namespace-uri(.)='${SAML_NS}']`, action: 'after' },
  });
  return signature.getSignedXml();
}
