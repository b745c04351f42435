import type { KeyObject } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { SamlResponseError } from '../errors.ts';
import { publicKeyOfPem } from '../crypto/parsed-keys.ts';

/**
 * Checks on a whole SAML Response, on the one parse of it (saml-connection.ts `verify`).
 * The signature policy (SAML Core §5, Profiles §4.1.3.5, and the XML Signature Wrapping attacks
 * of Somorovsky et al., 2012):
 *
 * - the top-level StatusCode is Success, else the IdP's status code and message are reported;
 * - exactly one `Assertion` or `EncryptedAssertion` in the whole tree, whatever its namespace
 *   or prefix and wherever it hides (Extensions, Advice, ds:Object, KeyInfo…), a direct child of
 *   the Response;
 * - every `ds:Signature` present envelops the Response or that assertion, references it by a
 *   unique ID and verifies against a configured certificate (never one from KeyInfo);
 * - at least one of them is there: a signed Response covers its assertion, a signed assertion
 *   in an unsigned Response is accepted too.
 *
 * The functions take parsed documents so that they can run again on a decrypted assertion
 * (`checkDecryptedAssertion`). Each refusal names its cause and its fix (error 45010).
 */

export const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SAMLP_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const ASSERTION_NAMES = new Set(['Assertion', 'EncryptedAssertion']);

/** What the checks established about a message. */
export interface MessageCheck {
  /** The one assertion (or encrypted assertion), a child of the Response. */
  assertion: Element;
  /** A Response signature is present and verified. */
  responseSigned: boolean;
  /** The assertion's own signature is present and verified (false for an EncryptedAssertion). */
  assertionSigned: boolean;
}

const elementsOf = (root: Element): Element[] => [root, ...Array.from(root.getElementsByTagName('*'))];
/** The child elements of `parent` with this namespace and local name, in document order. */
export const childElements = (parent: Element, namespace: string, localName: string): Element[] =>
  Array.from(parent.childNodes).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === namespace && (n as Element).localName === localName,
  );

/** `samlp:Extensions` › `saml:Assertion`: where an element sits, for messages. */
function pathOf(element: Element): string {
  const names: string[] = [];
  for (let node: Node | null = element; node && node.nodeType === 1; node = node.parentNode) names.unshift((node as Element).nodeName);
  return names.join(' › ');
}

/**
 * SAML Core §3.2.2.2: anything but a top-level Success means the IdP did not authenticate the
 * user, whatever assertion the message also carries.
 */
export function checkStatus(response: Element): void {
  const status = childElements(response, SAMLP_NS, 'Status')[0];
  const code = status ? childElements(status, SAMLP_NS, 'StatusCode')[0] : undefined;
  const value = code?.getAttribute('Value') ?? '';
  if (value === SUCCESS) return;
  const short = (uri: string) => uri.replace(/^urn:oasis:names:tc:SAML:2\.0:status:/, '').slice(0, 200);
  if (!code) throw new SamlResponseError('the response has no StatusCode (SAML Core §3.2.2): it is not a valid answer to a sign-in request');
  const nested = childElements(code, SAMLP_NS, 'StatusCode')[0]?.getAttribute('Value');
  const message = status ? childElements(status, SAMLP_NS, 'StatusMessage')[0]?.textContent?.trim() : undefined;
  throw new SamlResponseError(
    `the identity provider did not sign the user in: status ${short(value)}${nested ? ` / ${short(nested)}` : ''}` +
      `${message ? `, "${message.slice(0, 300)}"` : ''}. The cause is at the IdP (the user's access to this application, their account or the sign-in policy): check its sign-in logs`,
  );
}

/** Every assertion-shaped element in the tree, by local name (whatever its namespace: a look-alike counts too). */
export function findAssertions(root: Element): Element[] {
  return elementsOf(root).filter((e) => ASSERTION_NAMES.has(e.localName ?? ''));
}

/** Exactly one assertion, and it is a direct child of the Response. */
export function checkSingleAssertion(response: Element): Element {
  const found = findAssertions(response);
  if (found.length === 0) throw new SamlResponseError('the response carries no assertion; configure the IdP to send one');
  if (found.length > 1) {
    throw new SamlResponseError(
      `the response carries ${found.length} assertions (${found.map(pathOf).join('; ').slice(0, 400)}) where exactly one is allowed: ` +
        'a second assertion is how signature-wrapping attacks hide a forged identity. No IdP setting produces this; the message was altered',
    );
  }
  const assertion = found[0]!;
  if (assertion.parentNode !== response || assertion.namespaceURI !== SAML_NS) {
    throw new SamlResponseError(
      `the assertion sits at ${pathOf(assertion)}, not directly in the Response (SAML Core §3.3.3); the message was altered`,
    );
  }
  return assertion;
}

/** PEM as xml-crypto wants it; settings may hold bare base64 DER. */
const toPem = (certificate: string): string =>
  certificate.includes('BEGIN CERTIFICATE')
    ? certificate
    : `-----BEGIN CERTIFICATE-----\n${(certificate.replace(/\s+/g, '').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;

type Verdict = 'valid' | 'content-changed' | 'wrong-certificate' | 'malformed';

/**
 * The certificate's public key, parsed once a thread (crypto/parsed-keys.ts) rather than on every
 * verify. One that does not parse (settings validate certificates, so hardly ever) goes to
 * xml-crypto as PEM, as before: it checks the digests first, so a changed message is still
 * reported as changed whatever the key.
 */
function publicKeyOf(certificate: string): KeyObject | string {
  const pem = toPem(certificate);
  try {
    return publicKeyOfPem(pem);
  } catch {
    return pem;
  }
}

const base64Of = (certificate: string): string => certificate.replace(/-----[^-]+-----|\s+/g, '');

/**
 * The configured certificates, the one the signature's KeyInfo names first (so that during a
 * rollover each signature is checked once, not once per certificate). KeyInfo only orders the
 * list: a certificate that is not configured is never used.
 */
function certificatesToTry(signature: Element, certificates: readonly string[]): readonly string[] {
  if (certificates.length < 2) return certificates;
  const named = new Set(Array.from(signature.getElementsByTagNameNS(DS_NS, 'X509Certificate')).map((c) => base64Of(c.textContent ?? '')));
  return [...certificates].sort((a, b) => Number(named.has(base64Of(b))) - Number(named.has(base64Of(a))));
}

/**
 * One signature against each configured certificate in turn; KeyInfo is never trusted.
 * `idAttribute` is the ID attribute of the signed element ("ID" in SAML): xml-crypto then looks
 * the reference up by that one name (and still refuses two elements carrying it) instead of
 * scanning the document once for each of ID, Id and id.
 */
function verifySignature(signature: Element, xml: string, certificates: readonly string[], idAttribute: 'ID' | 'Id'): Verdict {
  let verdict: Verdict = 'wrong-certificate';
  for (const certificate of certificatesToTry(signature, certificates)) {
    try {
      const signer = new SignedXml({ publicCert: publicKeyOf(certificate) });
      signer.idAttributes = [idAttribute];
      signer.loadSignature(signature);
      if (signer.checkSignature(xml)) return 'valid';
      // xml-crypto answers false when a reference's digest differs (before the key matters).
      return 'content-changed';
    } catch (error) {
      if (!/signature value .* is incorrect/.test((error as Error).message)) verdict = 'malformed';
    }
  }
  return verdict;
}

/**
 * Verifies every ds:Signature under `root` (the Response, or a decrypted assertion). Each must
 * envelop one of `signable` and reference it by an ID no other element carries.
 * Returns the elements whose signature verified.
 */
export function checkSignatures(root: Element, xml: string, certificates: readonly string[], signable: readonly Element[]): Set<Element> {
  const normalized = xml.replace(/\r\n?/g, '\n');
  const signed = new Set<Element>();
  const allIds = new Map<string, number>();
  for (const element of elementsOf(root)) {
    for (const name of ['ID', 'Id']) {
      const id = element.getAttribute(name);
      if (id) allIds.set(id, (allIds.get(id) ?? 0) + 1);
    }
  }
  const describe = (element: Element) => (element.localName === 'Response' ? "the Response's signature" : "the assertion's signature");
  for (const signature of elementsOf(root).filter((e) => e.namespaceURI === DS_NS && e.localName === 'Signature')) {
    const parent = signature.parentNode as Element | null;
    if (!parent || !signable.includes(parent)) {
      throw new SamlResponseError(
        `a signature sits at ${pathOf(signature)}: only the Response and its assertion may be signed. No IdP setting produces this; the message was altered`,
      );
    }
    const references = Array.from(signature.getElementsByTagNameNS(DS_NS, 'Reference'));
    const idAttribute = parent.getAttribute('ID') ? 'ID' : 'Id';
    const id = parent.getAttribute(idAttribute);
    if (references.length !== 1 || !id || references[0]!.getAttribute('URI') !== `#${id}` || allIds.get(id) !== 1) {
      throw new SamlResponseError(
        `${describe(parent)} does not sign exactly the element it sits in (one reference to a unique ID); the message was altered`,
      );
    }
    const verdict = verifySignature(signature, normalized, certificates, idAttribute);
    if (verdict === 'content-changed') {
      throw new SamlResponseError(
        `${describe(parent)} does not match the content: the message was changed after the IdP signed it. No setting fixes this; if it happens to every sign-in, something between the IdP and Lanyard rewrites the response`,
      );
    }
    if (verdict !== 'valid') {
      throw new SamlResponseError(
        `${describe(parent)} was not made with ${certificates.length > 1 ? 'any of the configured IdP certificates' : 'the configured IdP certificate'}. ` +
          "If the IdP's signing certificate changed, update it in this account's identity provider settings (certificate or metadata)",
      );
    }
    signed.add(parent);
  }
  return signed;
}

/** All checks on a Response document. Throws SamlResponseError (45010) naming the cause and fix. */
export function checkResponseMessage(response: Element, xml: string, certificates: readonly string[]): MessageCheck {
  checkStatus(response);
  const assertion = checkSingleAssertion(response);
  const signed = checkSignatures(response, xml, certificates, [response, assertion]);
  const responseSigned = signed.has(response);
  const assertionSigned = signed.has(assertion);
  if (!responseSigned && assertion.localName === 'Assertion' && !assertionSigned) {
    throw new SamlResponseError(
      'no signature: neither the Response nor its assertion is signed; configure the IdP to sign the assertion (or the whole response) with its signing certificate',
    );
  }
  return { assertion, responseSigned, assertionSigned };
}

/**
 * The same rules inside a decrypted `EncryptedAssertion`: exactly one assertion, every signature
 * in it verifies, and it is signed unless the Response that carried it was.
 */
export function checkDecryptedAssertion(root: Element, xml: string, certificates: readonly string[], responseSigned: boolean): Element {
  const found = findAssertions(root);
  if (found.length !== 1 || found[0] !== root || root.namespaceURI !== SAML_NS) {
    throw new SamlResponseError(`the encrypted assertion holds ${found.length} assertions where exactly one is allowed; the message was altered`);
  }
  const signed = checkSignatures(root, xml, certificates, [root]);
  if (!responseSigned && !signed.has(root)) {
    throw new SamlResponseError(
      'no signature: neither the Response nor its (encrypted) assertion is signed; configure the IdP to sign the assertion',
    );
  }
  return root;
}
