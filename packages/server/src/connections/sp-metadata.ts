import { escapeXml } from './xml-text.ts';

/** The service-provider side of one SAML relationship: who we are to the IdP. */
export interface ServiceProvider {
  entityId: string;
  acsUrl: string;
}

/** The SP certificates to publish (every key still valid during a rollover) and whether we sign. */
export interface SpMetadataKeys {
  signingCertificates: string[];
  encryptionCertificates: string[];
  authnRequestsSigned: boolean;
}

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');

/** What Lanyard decrypts (saml-encryption.ts), strongest first, so that an IdP that reads the list picks GCM. */
const ENCRYPTION_METHODS = [
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
];

function keyDescriptor(use: 'signing' | 'encryption', pem: string): string {
  const methods = use === 'encryption' ? ENCRYPTION_METHODS.map((a) => `<md:EncryptionMethod Algorithm="${a}"/>`).join('') : '';
  return (
    `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(pem)}</ds:X509Certificate>` +
    `</ds:X509Data></ds:KeyInfo>${methods}</md:KeyDescriptor>`
  );
}

/**
 * SAML 2.0 metadata of one of our service providers (SAML metadata §2.4.4): entity ID, the
 * HTTP-POST ACS, WantAssertionsSigned, and with keys a `KeyDescriptor` per signing and
 * encryption certificate — both of a rollover pair, so that the IdP can move at its own pace.
 */
export function serviceProviderMetadata(sp: ServiceProvider, keys?: SpMetadataKeys): string {
  const descriptors = keys
    ? [
        ...keys.signingCertificates.map((pem) => keyDescriptor('signing', pem)),
        ...keys.encryptionCertificates.map((pem) => keyDescriptor('encryption', pem)),
      ].join('')
    : '';
  return (
    '<?xml version="1.0"?>\n' +
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${escapeXml(sp.entityId)}">` +
    `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="${keys?.authnRequestsSigned ? 'true' : 'false'}" WantAssertionsSigned="true">` +
    descriptors +
    `<md:AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escapeXml(sp.acsUrl)}"/>` +
    '</md:SPSSODescriptor></md:EntityDescriptor>\n'
  );
}
