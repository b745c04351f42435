import type { SamlIdpSettings } from '../accounts/model.ts';
import { signsAuthnRequests } from './saml-request-signing.ts';

/** An IdP authentication older than this was reused from the IdP's own session. */
const REUSED_AFTER_MS = 5 * 60_000;

/**
 * What a SAML answer shows about how the IdP is set up, in words for the console's test sign-in
 * report: encryption, request signing and binding, and the age of the IdP's authentication.
 *
 * @param samlResponse the base64 SAMLResponse as POSTed to the ACS.
 * @param saml the connection's IdP settings (null: no request notes).
 * @param authnInstant the assertion's AuthnStatement AuthnInstant (ms since the epoch), if any.
 */
export function samlDiagnosis(samlResponse: string, saml: SamlIdpSettings | null, authnInstant: number | undefined, now = Date.now()): string[] {
  const notes: string[] = [];
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (/<(\w+:)?EncryptedAssertion[\s>]/.test(xml)) {
    notes.push(
      "The assertion arrived encrypted (to this connection's SP encryption key) and was decrypted; its signature was checked after decryption.",
    );
  }
  if (saml) {
    notes.push(
      `AuthnRequests went by HTTP-${saml.ssoBinding === 'post' ? 'POST' : 'Redirect'}, ${signsAuthnRequests(saml) ? 'signed' : 'unsigned'}` +
        `${saml.wantAuthnRequestsSigned ? ' (the IdP metadata asks for signed requests)' : ''}.`,
    );
  }
  if (authnInstant === undefined) {
    notes.push('The assertion has no AuthnStatement AuthnInstant: prompt=login and max_age cannot be honoured for this IdP.');
  } else if (now - authnInstant > REUSED_AFTER_MS) {
    notes.push(
      `The IdP reused an authentication from ${new Date(authnInstant).toISOString()} (its own session); a client asking for prompt=login or max_age needs the IdP to honour ForceAuthn.`,
    );
  }
  return notes;
}
