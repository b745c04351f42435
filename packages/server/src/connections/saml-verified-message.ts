import { SamlResponseError } from '../errors.ts';
import { emptyAttributes, type RawAttributes } from './profile-mapping.ts';
import type { AssertionContent, ConditionsContent } from './saml-assertion.ts';
import { DecryptionKeysNeeded } from './saml-verification-task.ts';

/**
 * A verified SAML Response as plain data, as it crosses from the verification workers
 * (saml-message-verification.ts) to the main thread (saml-connection.ts `verify`). This module
 * loads no XML library: a node whose responses are verified on workers never loads the XML stack
 * on its main thread.
 */

/** What a verified message says, as plain data. */
export interface VerifiedSamlMessage {
  /** The verified assertion's content, attributes as [name, values] entries (see `assertionOf`). */
  assertion: Omit<AssertionContent, 'attributes'> & { attributeEntries: Array<[string, string[]]> };
  /** The Response's InResponseTo attribute, null when absent or empty. */
  inResponseTo: string | null;
  /** The Response's own Issuer (trimmed), undefined when absent. */
  responseIssuer: string | undefined;
  /** The Response's Destination attribute, null when absent or empty. */
  destination: string | null;
  /**
   * The verified assertion's Conditions (time window, audience; SAML Core §2.5), for the caller
   * to check (`checkConditions`) with its own clock, after the InResponseTo check, as the
   * in-order checks always have.
   */
  conditions: ConditionsContent;
}

/** The verified assertion's content with its attributes back in a null-prototype record. */
export function assertionOf(message: VerifiedSamlMessage): AssertionContent {
  const { attributeEntries, ...content } = message.assertion;
  const attributes: RawAttributes = emptyAttributes();
  for (const [name, values] of attributeEntries) attributes[name] = values;
  return { ...content, attributes };
}

/**
 * `verifySamlMessage`'s result or refusal as plain data, for a worker thread to post back: an
 * Error does not survive structured cloning as its class (SamlResponseError 45010, and the one
 * EncryptedAssertionError message that must not vary).
 */
export type SamlVerificationOutcome =
  | { ok: true; message: VerifiedSamlMessage }
  | { ok: false; refusal: 'encrypted-assertion' }
  | { ok: false; refusal: 'needs-decryption-keys' }
  | { ok: false; refusal: 'response'; detail: string }
  | { ok: false; refusal: 'internal'; detail: string };

/** The verified message, or the refusal thrown again as the error `verifySamlMessage` threw. */
export function messageFromOutcome(outcome: SamlVerificationOutcome): VerifiedSamlMessage {
  if (outcome.ok) return outcome.message;
  if (outcome.refusal === 'encrypted-assertion') throw new EncryptedAssertionError();
  if (outcome.refusal === 'needs-decryption-keys') throw new DecryptionKeysNeeded();
  if (outcome.refusal === 'response') throw new SamlResponseError(outcome.detail);
  throw new Error(`verifying the SAML response on a worker thread failed: ${outcome.detail}`);
}

/**
 * The one refusal for an encrypted assertion that did not open, or opened but did not verify,
 * whatever the reason: the reasons must not be told apart from outside (padding oracle).
 */
export class EncryptedAssertionError extends SamlResponseError {
  constructor() {
    super(
      'the encrypted assertion could not be decrypted and verified. Check that the IdP encrypts to the encryption certificate in ' +
        'Lanyard\'s SP metadata (KeyDescriptor use="encryption") and signs with the certificate in this account\'s identity provider settings',
    );
  }
}
