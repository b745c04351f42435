import { DOMParser } from '@xmldom/xmldom';
import { SamlResponseError } from '../errors.ts';
import { DecryptionKeysNeeded, type SamlVerificationTask } from './saml-verification-task.ts';
import { readAssertion, readConditions } from './saml-assertion.ts';
import { decryptAssertion } from './saml-encryption.ts';
import { EncryptedAssertionError, type SamlVerificationOutcome, type VerifiedSamlMessage } from './saml-verified-message.ts';
import { checkDecryptedAssertion, checkResponseMessage, childElements, DS_NS, SAML_NS, SAMLP_NS } from './saml-message-checks.ts';

/**
 * The CPU-bound half of checking a SAML Response: everything that reads the message alone and
 * needs no storage, so that it can run on a worker thread (saml-verification-pool.ts). One parse;
 * each signature verified once against the configured certificates (saml-message-checks.ts);
 * an encrypted assertion opened and held to the same rules (saml-encryption.ts). The storage
 * checks (InResponseTo, replay) and the checks that name our endpoints stay with the caller
 * (saml-connection.ts `verify`), on the plain data this returns.
 *
 * Everything in and out is plain data (structured-cloneable): the task, and a result that holds
 * no DOM and no prototype-sensitive objects (attributes travel as entries).
 */
export type { SamlVerificationTask } from './saml-verification-task.ts';
export type { SamlVerificationOutcome, VerifiedSamlMessage } from './saml-verified-message.ts';

/**
 * The algorithm allow-lists (see `assertStrongAlgorithms`). Signatures are verified with a
 * `KeyObject` (saml-message-checks.ts): xml-crypto 6's RSA-SHA256/512 take one, but its
 * RSA-PSS (`sha256-rsa-MGF1`) refuses anything but a string or Buffer; adding that algorithm here
 * needs that changed first, or every such sign-in reads as a wrong certificate.
 */
const SIGNATURE_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const DIGEST_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const WEAK_NAMES: ReadonlyMap<string, string> = new Map([
  ['http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'RSA-SHA-1'],
  ['http://www.w3.org/2000/09/xmldsig#sha1', 'SHA-1'],
  ['http://www.w3.org/2000/09/xmldsig#hmac-sha1', 'HMAC-SHA-1'],
]);

/**
 * Verifies a SAML Response message. Throws SamlResponseError (45010) naming the cause and fix,
 * EncryptedAssertionError for an encrypted assertion that does not open and verify (one message
 * whatever the reason: no padding oracle).
 */
export async function verifySamlMessage(task: SamlVerificationTask): Promise<VerifiedSamlMessage> {
  const message = parseResponse(task.xml);
  assertStrongAlgorithms(message);
  const checked = checkResponseMessage(message, task.xml, task.certificates);
  const decrypted = await decryptAssertion(message, {
    keys: async () => {
      if (task.decryptionKeys === undefined) throw new DecryptionKeysNeeded();
      return [...task.decryptionKeys];
    },
    allowRsa15: task.allowRsa15KeyTransport,
  });
  if (decrypted) {
    // Inside an encrypted assertion, the same algorithm and signature rules as in a plain one.
    try {
      assertStrongAlgorithms(decrypted.assertion);
      checkDecryptedAssertion(decrypted.assertion, decrypted.assertionXml, task.certificates, checked.responseSigned);
    } catch (error) {
      // Without a verified Response signature the plaintext is the attacker's choice (CBC is
      // malleable): what it fails on must not be told apart from a failed decryption.
      if (!checked.responseSigned) throw new EncryptedAssertionError();
      throw error;
    }
  }
  // Verified above: signed itself, or inside the verified Response, or decrypted and verified.
  const verified = decrypted?.assertion ?? checked.assertion;
  const { attributes, ...content } = readAssertion(verified);
  return {
    assertion: { ...content, attributeEntries: Object.entries(attributes) },
    inResponseTo: message.getAttribute('InResponseTo') || null,
    responseIssuer: childElements(message, SAML_NS, 'Issuer')[0]?.textContent?.trim(),
    destination: message.getAttribute('Destination') || null,
    conditions: readConditions(verified),
  };
}

/** The raw message's root, for checks only: identity is read from signed XML alone. */
function parseResponse(xml: string): Element {
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: () => undefined } }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== SAMLP_NS || root.localName !== 'Response') throw new SamlResponseError('the message is not a SAML 2.0 Response');
  return root;
}

/**
 * Refuses the message when any signature in it uses an algorithm outside the allow-lists: SHA-1
 * is refused (collisions are practical: SHAttered, 2017), HMAC never accepted (a public
 * certificate would become the MAC key). Only ds:Signature is read: an EncryptedKey's RSA-OAEP
 * ds:DigestMethod (SHA-1 by default, and sound there) is not a signature digest.
 */
function assertStrongAlgorithms(message: Element): void {
  const signatures = Array.from(message.getElementsByTagNameNS(DS_NS, 'Signature'));
  if (message.namespaceURI === DS_NS && message.localName === 'Signature') signatures.push(message);
  const check = (localName: string, allowed: Set<string>, what: string) => {
    for (const method of signatures.flatMap((s) => Array.from(s.getElementsByTagNameNS(DS_NS, localName)))) {
      const algorithm = method.getAttribute('Algorithm') ?? '';
      if (!allowed.has(algorithm)) {
        const name = WEAK_NAMES.get(algorithm) ?? `"${algorithm.slice(0, 100)}"`;
        throw new SamlResponseError(
          `the ${what} algorithm ${name} is not accepted; configure the IdP to sign with RSA-SHA256 (or RSA-SHA512) and SHA-256 digests`,
        );
      }
    }
  };
  check('SignatureMethod', SIGNATURE_ALGORITHMS, 'signature');
  check('DigestMethod', DIGEST_ALGORITHMS, 'digest');
}

export async function settleSamlVerification(task: SamlVerificationTask): Promise<SamlVerificationOutcome> {
  try {
    return { ok: true, message: await verifySamlMessage(task) };
  } catch (error) {
    if (error instanceof EncryptedAssertionError) return { ok: false, refusal: 'encrypted-assertion' };
    if (error instanceof DecryptionKeysNeeded) return { ok: false, refusal: 'needs-decryption-keys' };
    if (error instanceof SamlResponseError) return { ok: false, refusal: 'response', detail: error.detail };
    return { ok: false, refusal: 'internal', detail: error instanceof Error ? error.message : String(error) };
  }
}
