import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import xmlenc from 'xml-encryption';
import { SamlResponseError } from '../errors.ts';
import { childElements } from './saml-message-checks.ts';
import { EncryptedAssertionError } from './saml-verified-message.ts';

const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const XENC_NS = 'http://www.w3.org/2001/04/xmlenc#';

const RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p';
const RSA_1_5 = 'http://www.w3.org/2001/04/xmlenc#rsa-1_5';
const RSA_OAEP_11 = 'http://www.w3.org/2009/xmlenc11#rsa-oaep';

/** Content encryption accepted: AES in GCM (XML Encryption 1.1) or CBC mode. */
const CONTENT_ALGORITHMS = new Map([
  ['http://www.w3.org/2009/xmlenc11#aes128-gcm', 'AES-128-GCM'],
  ['http://www.w3.org/2009/xmlenc11#aes256-gcm', 'AES-256-GCM'],
  ['http://www.w3.org/2001/04/xmlenc#aes128-cbc', 'AES-128-CBC'],
  ['http://www.w3.org/2001/04/xmlenc#aes256-cbc', 'AES-256-CBC'],
]);
const CONTENT_NAMES = new Map([
  ['http://www.w3.org/2001/04/xmlenc#tripledes-cbc', 'Triple DES'],
  ['http://www.w3.org/2001/04/xmlenc#aes192-cbc', 'AES-192-CBC'],
  ['http://www.w3.org/2009/xmlenc11#aes192-gcm', 'AES-192-GCM'],
]);

export interface DecryptionPolicy {
  /** PEM private keys, newest first: every encryption key the SP metadata still publishes. Read only for an encrypted assertion. */
  keys: () => Promise<string[]>;
  /** RSA PKCS#1 v1.5 key transport (Bleichenbacher-style padding oracles); off unless an admin turns it on. */
  allowRsa15?: boolean;
}

export interface DecryptedAssertion {
  /** The Assertion element as the IdP encrypted it (its own signature, if any, still inside). */
  assertionXml: string;
  /** `assertionXml` parsed (once): the element the signature checks and the reader work on. */
  assertion: Element;
  /** The key that opened it, to hand the same key to the signature checks that follow. */
  key: string;
}

/**
 * Opens the response's `saml:EncryptedAssertion` (SAML core §2.3.4, XML Encryption) with the
 * connection's encryption keys, trying each (a key rollover), after refusing weak algorithms by
 * name. Returns undefined when the assertion is not encrypted. Signatures are not checked here:
 * the caller verifies the decrypted assertion with every rule a plain one gets.
 */
export async function decryptAssertion(response: Element, policy: DecryptionPolicy): Promise<DecryptedAssertion | undefined> {
  const encrypted = childElements(response, SAML_NS, 'EncryptedAssertion');
  if (encrypted.length === 0) return undefined;
  if (encrypted.length > 1) throw new SamlResponseError('the response carries more than one encrypted assertion; exactly one is accepted');
  const element = encrypted[0]!;
  assertAcceptedAlgorithms(element, policy.allowRsa15 === true);
  const keys = await policy.keys();
  if (keys.length === 0) throw new SamlResponseError('the assertion is encrypted but this connection has no encryption key');

  const xml = new XMLSerializer().serializeToString(element);
  for (const key of keys) {
    try {
      const assertionXml = await decrypt(xml, key, policy.allowRsa15 === true);
      const root = new DOMParser({ errorHandler: { warning: () => undefined, error: () => undefined } }).parseFromString(
        assertionXml,
        'text/xml',
      ).documentElement;
      if (root && root.namespaceURI === SAML_NS && root.localName === 'Assertion') return { assertionXml, assertion: root, key };
    } catch {
      // Every way of failing reads the same (below): a message that told bad padding from a bad
      // plaintext would be a CBC padding oracle (Jager & Somorovsky, CCS 2011).
    }
  }
  throw new EncryptedAssertionError();
}

function decrypt(xml: string, key: string, allowRsa15: boolean): Promise<string> {
  return new Promise((resolve, reject) =>
    xmlenc.decrypt(xml, { key, disallowDecryptionWithInsecureAlgorithm: !allowRsa15, warnInsecureAlgorithm: false }, (error, result) =>
      error ? reject(error) : resolve(String(result)),
    ),
  );
}

/** Names the algorithm the IdP used and the setting that changes it, before any decryption. */
function assertAcceptedAlgorithms(encryptedAssertion: Element, allowRsa15: boolean): void {
  const data = childElements(encryptedAssertion, XENC_NS, 'EncryptedData')[0];
  if (!data) throw new SamlResponseError('the EncryptedAssertion has no xenc:EncryptedData');
  const content = childElements(data, XENC_NS, 'EncryptionMethod')[0]?.getAttribute('Algorithm') ?? '';
  if (!CONTENT_ALGORITHMS.has(content)) {
    throw new SamlResponseError(
      `the assertion is encrypted with ${CONTENT_NAMES.get(content) ?? `"${content.slice(0, 100) || '(no algorithm)'}"`}, which is not accepted; set the IdP's assertion encryption to AES-256-GCM, AES-128-GCM, AES-256-CBC or AES-128-CBC`,
    );
  }
  const keyMethods = Array.from(encryptedAssertion.getElementsByTagNameNS(XENC_NS, 'EncryptedKey')).flatMap((k) =>
    childElements(k, XENC_NS, 'EncryptionMethod').map((m) => m.getAttribute('Algorithm') ?? ''),
  );
  if (keyMethods.length === 0) throw new SamlResponseError('the encrypted assertion carries no xenc:EncryptedKey (the key must travel with it)');
  for (const method of keyMethods) {
    if (method === RSA_OAEP_MGF1P || (method === RSA_1_5 && allowRsa15)) continue;
    if (method === RSA_1_5) {
      throw new SamlResponseError(
        'the assertion key is encrypted with RSA PKCS#1 v1.5, which is refused (padding-oracle attacks); set the IdP\'s key transport to RSA-OAEP ("rsa-oaep-mgf1p")',
      );
    }
    if (method === RSA_OAEP_11) {
      throw new SamlResponseError(
        'the assertion key uses XML Encryption 1.1 RSA-OAEP (xmlenc11#rsa-oaep), which Lanyard does not decrypt; set the IdP\'s key transport to "rsa-oaep-mgf1p" (XML Encryption 1.0 RSA-OAEP)',
      );
    }
    throw new SamlResponseError(`the assertion key transport "${method.slice(0, 100)}" is not accepted; set the IdP to RSA-OAEP ("rsa-oaep-mgf1p")`);
  }
}
