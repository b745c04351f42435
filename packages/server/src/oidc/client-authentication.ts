import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { Context } from 'hono';
import type { ClientRegistry } from '../clients/client-registry.ts';
import type { OAuthClient } from '../clients/model.ts';
import { sha256 } from '../crypto/random.ts';
import { InvalidParameterError, LanyardError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import { requestHeader } from '../http/request-headers.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric algorithms only: a client's public keys can never verify an HMAC. */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
/** An assertion may live at most this long from now (they are minted per request). */
const MAX_ASSERTION_LIFETIME_S = 600;
const CLOCK_TOLERANCE_S = 30;
const JTI = 'client_assertion_jti';

export class InvalidClientError extends LanyardError {
  constructor(message: string) {
    super({ code: 20003, status: 401, message, oauthError: 'invalid_client' });
  }
}

export interface ClientAuthenticationContext {
  clients: ClientRegistry;
  storage: Storage;
  issuer: string;
  /** The URL of the endpoint being called: an assertion's `aud` may name it or the issuer. */
  endpoint: string;
}

type Presented =
  | { method: 'client_secret_basic'; clientId: string; secret: string }
  | { method: 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string }
  | { method: 'none'; clientId: string };

/**
 * Authenticates the client of a token, revocation or introspection request with the method it
 * registered (OpenID Connect Core §9, RFC 6749 §2.3, RFC 7523 §3): Basic or form secrets, a
 * signed JWT assertion (single-use `jti`, `aud`, `exp`), or none for a public client. A client
 * using another method than its own, or more than one, is refused rather than half-checked.
 * Throws InvalidClientError (401; with a Basic challenge when Basic was tried) or
 * InvalidParameterError (400) for a malformed request.
 */
export async function authenticateClient(c: Context, form: Record<string, string>, ctx: ClientAuthenticationContext): Promise<OAuthClient> {
  const header = requestHeader(c, 'authorization');
  try {
    const presented = readCredentials(header, form);
    const client = await ctx.clients.find(presented.clientId);
    if (!client) throw new InvalidClientError('client_id is unknown.');
    if (client.tokenEndpointAuthMethod === 'none' && presented.method !== 'none') {
      throw new InvalidClientError('This client is public (token_endpoint_auth_method none): send client_id only, no secret or assertion.');
    }
    if (presented.method !== client.tokenEndpointAuthMethod) {
      throw new InvalidClientError(
        `This client must authenticate with ${client.tokenEndpointAuthMethod}, its registered token_endpoint_auth_method; the request used ${presented.method}.`,
      );
    }
    if (presented.method === 'client_secret_basic' || presented.method === 'client_secret_post') {
      if (!ctx.clients.verifySecret(client, presented.secret))
        throw new InvalidClientError('The client secret is wrong, or was rotated and has expired.');
    } else if (presented.method === 'private_key_jwt') {
      await verifyAssertion(presented.assertion, client, ctx);
    }
    return client;
  } catch (error) {
    // RFC 6749 §5.2: a failed attempt at header authentication gets a challenge.
    if (error instanceof InvalidClientError && header !== undefined) c.header('WWW-Authenticate', 'Basic realm="lanyard"');
    throw error;
  }
}

function readCredentials(header: string | undefined, form: Record<string, string>): Presented {
  const used = [header !== undefined, form.client_secret !== undefined, form.client_assertion !== undefined].filter(Boolean).length;
  // RFC 6749 §2.3: the client MUST NOT use more than one authentication method in each request.
  if (used > 1) throw new InvalidParameterError('Use one client authentication method per request (Basic, client_secret or client_assertion).');
  if (header !== undefined) {
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new InvalidClientError('The Authorization header must be Basic with client_id:client_secret (RFC 6749 §2.3.1).');
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (form.client_id !== undefined && form.client_id !== clientId)
      throw new InvalidClientError('client_id in the body differs from the Basic credentials.');
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (form.client_assertion !== undefined) {
    if (form.client_assertion_type !== JWT_BEARER) throw new InvalidParameterError(`client_assertion_type must be ${JWT_BEARER}.`);
    let subject: unknown;
    try {
      subject = decodeJwt(form.client_assertion).sub;
    } catch {
      throw new InvalidClientError('client_assertion is not a well-formed JWT.');
    }
    const clientId = form.client_id ?? subject;
    if (typeof clientId !== 'string' || clientId === '') throw new InvalidClientError('client_assertion has no sub (the client_id).');
    return { method: 'private_key_jwt', clientId, assertion: form.client_assertion };
  }
  if (!form.client_id) throw new InvalidClientError('client_id is missing: send it in the body, or authenticate with the registered method.');
  if (form.client_secret !== undefined) return { method: 'client_secret_post', clientId: form.client_id, secret: form.client_secret };
  return { method: 'none', clientId: form.client_id };
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidClientError('The Basic credentials are not validly form-encoded (RFC 6749 §2.3.1).');
  }
}

/** RFC 7523 §3 and OpenID Connect Core §9: iss = sub = client_id, aud = us, exp, single-use jti. */
async function verifyAssertion(assertion: string, client: OAuthClient, ctx: ClientAuthenticationContext): Promise<void> {
  if (!client.jwks?.length) throw new InvalidClientError('This client has no registered keys (jwks) to verify its client_assertion.');
  let payload: { exp?: number; jti?: string };
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: client.jwks }), {
      issuer: client.clientId,
      subject: client.clientId,
      audience: [ctx.issuer, `${ctx.issuer}/oauth2/token`, ctx.endpoint],
      algorithms: ASSERTION_ALGS,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'jti'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new InvalidClientError('client_assertion has expired.');
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      throw new InvalidClientError(
        `client_assertion claim ${error.claim} is wrong: iss and sub must be the client_id, aud the issuer or this endpoint.`,
      );
    throw new InvalidClientError('client_assertion is not signed by a key registered for this client (jwks).');
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp! - now > MAX_ASSERTION_LIFETIME_S)
    throw new InvalidClientError(`client_assertion must expire within ${MAX_ASSERTION_LIFETIME_S} seconds.`);
  // Single use: the jti is remembered until the assertion expires (RFC 7523 §3 item 7).
  const fresh = await ctx.storage.insert({
    kind: JTI,
    id: sha256(`${client.clientId}\n${String(payload.jti)}`),
    accountSid: client.accountSid,
    payload: {},
    expiresAt: (payload.exp! + CLOCK_TOLERANCE_S) * 1000,
  });
  if (!fresh) throw new InvalidClientError('client_assertion was already used (jti replay); mint a new one for each request.');
}
