import type { Connection } from '../accounts/model.ts';
import type { VerifiedAssertion } from '../connections/saml-connection.ts';
import { signsAuthnRequests } from '../connections/saml-request-signing.ts';

/**
 * What a test sign-in learned about how the IdP is set up, in words for the report: encryption,
 * request signing and binding, and the age of the IdP's authentication.
 */
export function samlDiagnosis(samlResponse: string, connection: Connection, assertion: VerifiedAssertion, now = Date.now()): string[] {
  const notes: string[] = [];
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const saml = connection.saml;
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
  if (assertion.authnInstant === undefined) {
    notes.push('The assertion has no AuthnStatement AuthnInstant: prompt=login and max_age cannot be honoured for this IdP.');
  } else if (now - assertion.authnInstant > 5 * 60_000) {
    notes.push(
      `The IdP reused an authentication from ${new Date(assertion.authnInstant).toISOString()} (its own session); a client asking for prompt=login or max_age needs the IdP to honour ForceAuthn.`,
    );
  }
  return notes;
}
