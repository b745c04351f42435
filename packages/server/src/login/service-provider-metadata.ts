import type { Connection } from '../accounts/model.ts';
import type { ServiceProvider } from '../connections/saml-connection.ts';
import { signsAuthnRequests } from '../connections/saml-request-signing.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import { serviceProviderMetadata } from '../connections/sp-metadata.ts';

/**
 * Metadata of `sp`. With the connection, its SP certificates are published (created on first
 * request, so that the IdP can be given them before the first sign-in): signing and encryption,
 * both keys of a rollover in progress.
 */
export async function serviceProviderMetadataFor(spKeys: SpKeys, sp: ServiceProvider, connection: Connection | undefined): Promise<string> {
  if (!connection) return serviceProviderMetadata(sp);
  const [signing, encryption] = await Promise.all([spKeys.keysOf(connection, 'signing'), spKeys.keysOf(connection, 'encryption')]);
  return serviceProviderMetadata(sp, {
    signingCertificates: signing.map((k) => k.certificatePem),
    encryptionCertificates: encryption.map((k) => k.certificatePem),
    authnRequestsSigned: connection.saml ? signsAuthnRequests(connection.saml) : false,
  });
}
