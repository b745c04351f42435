import type { Connection } from '../accounts/model.ts';
import type { ConnectionProtocol } from '../connections/connection-protocol.ts';
import { OidcConnection } from '../connections/oidc-connection.ts';
import { OidcProtocol } from '../connections/oidc-protocol.ts';
import { SamlProtocol } from '../connections/saml-protocol.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { samlConnectionFor, type SamlDependencies } from './saml-connections.ts';
import { serviceProviderMetadataFor } from './service-provider-metadata.ts';
import { enhancedServiceProvider } from './service-providers.ts';

/** Where OpenID Connect providers send the browser back (register it at the provider). */
export const OIDC_CALLBACK_PATH = '/login/oidc/callback';

/**
 * The connection's protocol as the enhanced service provider (`urn:flex:JQ…`) speaks it: OpenID
 * Connect when the connection points at an OpenID Connect provider, SAML otherwise. The one place
 * that asks which protocol a connection uses.
 *
 * @throws InvalidSsoSettingsError when the connection has no identity provider settings.
 */
export function connectionProtocol(connection: Connection, deps: SamlDependencies & { secrets: SecretBox }): ConnectionProtocol {
  if (connection.oidc) {
    const callbackUrl = `${deps.publicUrl}${OIDC_CALLBACK_PATH}`;
    return new OidcProtocol(new OidcConnection(connection.oidc, deps.secrets, callbackUrl), connection, callbackUrl);
  }
  const sp = enhancedServiceProvider(deps.publicUrl, connection.sid);
  return new SamlProtocol(samlConnectionFor(deps, connection, sp), connection, sp, () => serviceProviderMetadataFor(deps.spKeys, sp, connection));
}
