import type { Connection } from '../accounts/model.ts';
import type { LanyardConfig } from '../config.ts';
import { SamlConnection, type ServiceProvider } from '../connections/saml-connection.ts';
import type { RequestOptions } from '../connections/saml-request-signing.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import type { SamlMessageVerifier } from '../connections/saml-verification-pool.ts';
import { InvalidSsoSettingsError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import { browserLocation } from './saml-post-binding.ts';

export interface SamlDependencies {
  storage: Storage;
  spKeys: SpKeys;
  publicUrl: string;
  /** How long a staged HTTP-POST AuthnRequest waits for the browser (the login request's lifetime). */
  requestTtlMs: number;
  /** Where responses are verified (the server's worker threads); absent: on this thread. */
  verifier?: SamlMessageVerifier;
}

/**
 * A login service's SAML dependencies: its storage and SP keys, the public URL and sign-in
 * lifetime from its configuration, and where responses are verified.
 */
export function samlDependenciesOf(
  config: Pick<LanyardConfig, 'publicUrl' | 'loginTtlSeconds'>,
  storage: Storage,
  spKeys: SpKeys,
  verifier?: SamlMessageVerifier,
): SamlDependencies {
  return { storage, spKeys, publicUrl: config.publicUrl, requestTtlMs: config.loginTtlSeconds * 1000, verifier };
}

/** The connection's SAML relationship as `sp`, with its SP keys. */
export function samlConnectionFor(deps: SamlDependencies, connection: Connection, sp: ServiceProvider): SamlConnection {
  if (!connection.saml) throw new InvalidSsoSettingsError('the connection has no identity provider settings');
  return new SamlConnection(deps.storage, connection.saml, sp, deps.spKeys.sourceFor(connection), deps.verifier);
}

/** The URL that starts a SAML sign-in in the browser, whatever the IdP's binding. */
export async function samlSignInLocation(
  deps: SamlDependencies,
  saml: SamlConnection,
  requestId: string,
  relayState: string,
  options: RequestOptions = {},
): Promise<string> {
  return browserLocation(deps.storage, deps.publicUrl, await saml.authnRequest(requestId, relayState, options), deps.requestTtlMs);
}
