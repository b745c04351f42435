/**
 * What the SAML verification (saml-message-verification.ts) is asked, on this thread or a worker
 * (saml-verification-pool.ts): plain data. Kept apart from the verification itself so that
 * callers can name it without loading the XML modules.
 */
export interface SamlVerificationTask {
  /** The decoded Response XML (UTF-8 text; DTDs already refused). */
  xml: string;
  /** The IdP signing certificates configured for the connection (PEM or bare base64 DER); never empty. */
  certificates: readonly string[];
  /**
   * PEM private keys that may open an EncryptedAssertion, newest first. Undefined: not read yet;
   * a message that needs them is then refused with DecryptionKeysNeeded once every check that
   * comes before decryption has passed, and the caller reads the keys and asks again.
   */
  decryptionKeys?: readonly string[];
  allowRsa15KeyTransport: boolean;
}

/**
 * The message carries an EncryptedAssertion and passed every check before decryption, but the
 * task held no keys: read them and verify again (the keys are read only for such a message, in
 * the order the checks have always run). Not a refusal: never shown to anyone.
 */
export class DecryptionKeysNeeded extends Error {
  constructor() {
    super('the SAML response carries an encrypted assertion: verify it again with the decryption keys');
    this.name = 'DecryptionKeysNeeded';
  }
}
