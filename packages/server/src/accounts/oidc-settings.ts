import { InvalidParameterError } from '../errors.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { scopeList } from '../connections/oidc-scopes.ts';
import type { OidcIdpSettings } from './model.ts';

/** What an administrator gives for an upstream OpenID Connect provider. */
export interface OidcSettingsInput {
  issuer: string;
  clientId: string;
  /** A new client secret; absent keeps the stored one when the issuer and client ID are unchanged. */
  clientSecret?: string;
  /** True: the client is public (PKCE only) and any stored secret is removed. Exclusive with `clientSecret`. */
  publicClient?: boolean;
  /** Space-separated, `openid` among them; absent keeps the stored scopes of the same client, else "openid profile email". */
  scopes?: string;
}

const DEFAULT_SCOPES = 'openid profile email';

/** What saving did to the client secret: for the audit log and the CLI's output, never the secret. */
export type ClientSecretChange = 'stored' | 'kept' | 'removed' | 'none';

const sameClient = (a: OidcIdpSettings, issuer: string, clientId: string) => a.issuer === issuer && a.clientId === clientId;

/**
 * The connection's OpenID Connect provider settings from the administrator's input, over the
 * `existing` ones (null for a connection that is not OIDC yet): the issuer is https (http on this
 * machine only), the scopes contain `openid` (OIDC Core §3.1.2.1), the client secret is sealed
 * with `secrets`. Re-saving the same issuer and client ID without a secret keeps the stored
 * secret (and scopes); becoming a public client is said with `publicClient`.
 *
 * @throws InvalidParameterError for a malformed or cleartext issuer, a missing client ID, scopes
 *   separated by commas or without `openid`, a secret together with `publicClient`, a new issuer or client ID without a
 *   secret while a secret is stored (it belongs to the old client), or a secret given to a tool
 *   that cannot seal one (no `secrets`).
 */
export function oidcSettings(input: OidcSettingsInput, secrets: SecretBox | undefined, existing: OidcIdpSettings | null = null): OidcIdpSettings {
  let url: URL;
  try {
    url = new URL(input.issuer);
  } catch {
    throw new InvalidParameterError(`issuer must be an absolute URL (got "${String(input.issuer).slice(0, 200)}").`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new InvalidParameterError('issuer must use https (http only for a provider on this machine).');
  if (!input.clientId) throw new InvalidParameterError('clientId (the client registered at the OpenID Connect provider) is required.');
  if (input.clientSecret && input.publicClient)
    throw new InvalidParameterError('Give either a client secret or public client, not both: a public client has no secret.');
  if (input.clientSecret && !secrets) throw new InvalidParameterError('client secrets cannot be stored by this tool.');
  const issuer = input.issuer.replace(/\/+$/, '');
  const same = existing !== null && sameClient(existing, issuer, input.clientId);
  if (input.scopes !== undefined) checkScopes(input.scopes);
  let sealedClientSecret: string | null;
  if (input.clientSecret) sealedClientSecret = secrets!.seal(input.clientSecret);
  else if (input.publicClient || !existing?.sealedClientSecret) sealedClientSecret = null;
  else if (same) sealedClientSecret = existing.sealedClientSecret;
  else {
    // The stored secret is the old client's: keeping it would fail with invalid_client, dropping
    // it silently would too. The administrator says which; both values are named, so a typo shows.
    throw new InvalidParameterError(clientChangedMessage(existing, issuer, input.clientId));
  }
  return {
    issuer,
    clientId: input.clientId,
    sealedClientSecret,
    scopes: input.scopes ?? (same ? existing.scopes : DEFAULT_SCOPES),
  };
}

/**
 * Refuses scopes that OpenID Connect cannot sign in with: comma-separated ones (RFC 6749 §3.3
 * separates scopes by spaces) and ones without `openid` (OIDC Core §3.1.2.1, compared
 * case-sensitively as the provider does), each with the corrected value to give.
 *
 * @throws InvalidParameterError naming the corrected `--scopes` value.
 */
function checkScopes(scopes: string): void {
  const shown = scopes.slice(0, 200);
  if (scopes.includes(',')) {
    const corrected = withOpenid(scopes.split(/[\s,]+/).filter(Boolean));
    throw new InvalidParameterError(
      `scopes are separated by spaces, not commas (RFC 6749 §3.3; got "${shown}"). Give them as --scopes "${corrected}" (API: "scopes": "${corrected}").`,
    );
  }
  const list = scopeList(scopes);
  if (list.includes('openid')) return;
  throw new InvalidParameterError(
    `scopes must contain "openid" (OpenID Connect Core §3.1.2.1; got "${shown}"): without it the provider sends no ID token, ` +
      `and refuses the nonce every sign-in carries. ` +
      (list.some((scope) => scope.toLowerCase() === 'openid') ? 'Scope names are case-sensitive: write it in lower case, ' : 'Add it, ') +
      `e.g. --scopes "${withOpenid(list)}".`,
  );
}

/** `scopes` with a lower-case `openid` first (any other spelling of it dropped), else "openid profile email". */
function withOpenid(scopes: string[]): string {
  const others = scopes.filter((scope) => scope.toLowerCase() !== 'openid');
  return ['openid', ...(others.length ? others : ['profile', 'email'])].join(' ');
}

/** Why a new issuer or client ID needs a secret, naming the stored and the given values. */
function clientChangedMessage(existing: OidcIdpSettings, issuer: string, clientId: string): string {
  const issuerChanged = existing.issuer !== issuer;
  const clientChanged = existing.clientId !== clientId;
  const what = issuerChanged && clientChanged ? 'issuer and client ID' : issuerChanged ? 'issuer' : 'client ID';
  const values = [
    ...(issuerChanged ? [`the stored issuer is ${existing.issuer}, you gave ${issuer}`] : []),
    ...(clientChanged ? [`the stored client ID is ${existing.clientId}, you gave ${clientId}`] : []),
  ].join('; ');
  const option = [...(issuerChanged ? ['--issuer'] : []), ...(clientChanged ? ['--client-id'] : [])].join(' and ');
  return (
    `The ${what} changed (${values}) and no client secret was given, while the old client's secret is stored. ` +
    `If you meant the same provider and client, correct ${option}; if it is a new client, ` +
    'give its secret (--client-secret-file, or "client_secret"), or say that it is a public client (--public-client, or "public_client": true).'
  );
}

/** What saving `after` over `before` did to the client secret (sealed values differ for every seal). */
export function clientSecretChange(before: OidcIdpSettings | null | undefined, after: OidcIdpSettings): ClientSecretChange {
  if (after.sealedClientSecret === null) return before?.sealedClientSecret ? 'removed' : 'none';
  return after.sealedClientSecret === before?.sealedClientSecret ? 'kept' : 'stored';
}
