import { createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Public keys parsed into node:crypto `KeyObject`s once a thread, not once a use. Handed a PEM
 * certificate, OpenSSL decodes and parses it on every verify: an RSA-SHA256 verify with a
 * certificate PEM cost 160–230 µs here, with a `KeyObject` 23 µs. A SAML response carries up to
 * two signatures (Response and assertion), each verified on every sign-in.
 *
 * The PEMs come from the server's own settings (the IdP's signing certificates), never from a
 * message. The map is bounded all the same, dropping its least recently used entry when full,
 * so that certificate rollovers over a long-lived process do not grow it.
 */
const MAX_ENTRIES = 256;

const publicKeys = new Map<string, KeyObject>();

/**
 * The public key of an X.509 certificate (or of an SPKI public key) in PEM.
 * @throws Error from node:crypto when the PEM does not parse; nothing is remembered then.
 */
export function publicKeyOfPem(pem: string): KeyObject {
  const known = publicKeys.get(pem);
  if (known) {
    // Used again: now the newest, the last to go (least recently used first).
    publicKeys.delete(pem);
    publicKeys.set(pem, known);
    return known;
  }
  const key = createPublicKey(pem);
  if (publicKeys.size >= MAX_ENTRIES) publicKeys.delete(publicKeys.keys().next().value!);
  publicKeys.set(pem, key);
  return key;
}
