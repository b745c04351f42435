import { safeEqual, sha256 } from '../crypto/random.ts';
import { InvalidGrantError } from '../errors.ts';
import type { CodeGrant, CodeRecord } from './model.ts';

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export interface CodeExchange {
  code: string;
  codeVerifier: string;
  /** What the client claims; each must match what the code was issued for. */
  surface: CodeGrant['surface'];
  connectionSid?: string;
  clientId?: string;
  redirectUrl?: string;
  nonce?: string;
}

/**
 * What the client presents must match what the code was issued for (RFC 6749 §4.1.3, RFC 7636 §4.6).
 * @throws InvalidGrantError (45200, 400) naming what does not match.
 */
export function checkExchange(grant: CodeRecord, request: CodeExchange): void {
  if (grant.surface !== request.surface) throw new InvalidGrantError('The authorization code was not issued to this endpoint.');
  if (request.connectionSid !== undefined && request.connectionSid !== grant.connectionSid) {
    throw new InvalidGrantError('The authorization code was issued for another connection (sso_profile_sid).');
  }
  if (request.clientId !== undefined && request.clientId !== grant.clientId)
    throw new InvalidGrantError('The authorization code was issued to another client.');
  if (request.redirectUrl !== undefined && request.redirectUrl !== grant.redirectUrl) {
    throw new InvalidGrantError('redirect_uri does not match the one used in the authorization request.');
  }
  if (!PKCE_VERIFIER.test(request.codeVerifier)) {
    throw new InvalidGrantError('code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).');
  }
  if (!safeEqual(sha256(request.codeVerifier), grant.codeChallenge))
    throw new InvalidGrantError('The PKCE code_verifier does not match the code challenge.');
  // The Flex contract sends the nonce again with the code (SPEC "Enhanced SSO"); standard OIDC
  // clients check it in the ID token instead (OIDC Core §3.1.3.7), so they need not send it.
  if (grant.nonce !== null && request.nonce === undefined && request.surface === 'flex') {
    throw new InvalidGrantError('nonce is missing: send the nonce of the authorization request again with the code.');
  }
  if (grant.nonce !== null && request.nonce !== undefined && request.nonce !== grant.nonce) {
    throw new InvalidGrantError('The nonce does not match the one sent in the authorization request.');
  }
}
