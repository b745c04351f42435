import { InvalidParameterError } from '../errors.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { OidcIdpSettings } from './model.ts';

/** What an administrator gives for an upstream OpenID Connect provider. */
export interface OidcSettingsInput {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scopes?: string;
}

/**
 * The connection's OpenID Connect provider settings from the administrator's input: the issuer
 * is https (http on this machine only), the client secret is sealed with `secrets`.
 *
 * @throws InvalidParameterError for a malformed or cleartext issuer, a missing client ID, or a
 *   secret given to a tool that cannot seal one (no `secrets`).
 */
export function oidcSettings(input: OidcSettingsInput, secrets: SecretBox | undefined): OidcIdpSettings {
  let issuer: URL;
  try {
    issuer = new URL(input.issuer);
  } catch {
    throw new InvalidParameterError(`issuer must be an absolute URL (got "${String(input.issuer).slice(0, 200)}").`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback))
    throw new InvalidParameterError('issuer must use https (http only for a provider on this machine).');
  if (!input.clientId) throw new InvalidParameterError('clientId (the client registered at the OpenID Connect provider) is required.');
  if (input.clientSecret && !secrets) throw new InvalidParameterError('client secrets cannot be stored by this tool.');
  return {
    issuer: input.issuer.replace(/\/+$/, ''),
    clientId: input.clientId,
    sealedClientSecret: input.clientSecret ? secrets!.seal(input.clientSecret) : null,
    scopes: input.scopes ?? 'openid profile email',
  };
}
