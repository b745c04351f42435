import type { Connection } from '../accounts/model.ts';
import type { ConnectionProtocol } from '../connections/connection-protocol.ts';
import { OidcConnection } from '../connections/oidc-connection.ts';
import { OidcProtocol } from '../connections/oidc-protocol.ts';
import { SamlProtocol } from '../connections/saml-protocol.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { InvalidParameterError } from '../errors.ts';
import { samlConnectionFor, type SamlDependencies } from './saml-connections.ts';
import { serviceProviderMetadataFor } from './service-provider-metadata.ts';
import { enhancedServiceProvider, legacyServiceProvider } from './service-providers.ts';

/** Where OpenID Connect providers send the browser back (register it at the provider). */
export const OIDC_CALLBACK_PATH = '/login/oidc/callback';

/**
 * Which of Lanyard's service providers an IdP answers: the enhanced one (`urn:flex:JQ…`, the
 * broker's endpoints) or the legacy one (`…/v1/Accounts/AC…/saml2`, SAML only).
 */
export type ServiceProviderKind = 'enhanced' | 'legacy';

/**
 * The connection's protocol as `serviceProvider` speaks it: OpenID Connect when the connection
 * points at an OpenID Connect provider, SAML otherwise. The one place that asks which protocol a
 * connection uses.
 *
 * @throws InvalidSsoSettingsError when the connection has no identity provider settings;
 *   InvalidParameterError (400) for the legacy service provider and an OpenID Connect connection
 *   (legacy SSO is SAML only: the provider calls back at the enhanced SP's `/login/oidc/callback`).
 */
export function connectionProtocol(
  connection: Connection,
  deps: SamlDependencies & { secrets: SecretBox },
  serviceProvider: ServiceProviderKind = 'enhanced',
): ConnectionProtocol {
  if (connection.oidc) {
    if (serviceProvider === 'legacy') {
      throw new InvalidParameterError(
        `The legacy SSO service provider speaks SAML only, and connection ${connection.sid} uses OpenID Connect: its provider calls back at ${OIDC_CALLBACK_PATH}, which belongs to the enhanced service provider. Use the enhanced service provider (service_provider "enhanced" in the API, --service-provider enhanced in the CLI).`,
      );
    }
    const callbackUrl = `${deps.publicUrl}${OIDC_CALLBACK_PATH}`;
    return new OidcProtocol(new OidcConnection(connection.oidc, deps.secrets, callbackUrl), connection, callbackUrl);
  }
  const sp =
    serviceProvider === 'enhanced'
      ? enhancedServiceProvider(deps.publicUrl, connection.sid)
      : legacyServiceProvider(deps.publicUrl, connection.accountSid);
  return new SamlProtocol(samlConnectionFor(deps, connection, sp), connection, sp, () => serviceProviderMetadataFor(deps.spKeys, sp, connection));
}
