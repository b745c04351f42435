/**
 * The development IdP's metadata document (SAML metadata §2.4.3 IDPSSODescriptor), written here
 * rather than by samlify: built from options, samlify warns "missing endpoint of
 * SingleLogoutService" on every construction, and this IdP has no single logout to advertise.
 * Given a document, samlify reads endpoints and the signing certificate from it instead.
 */
export interface IdpMetadataSettings {
  entityId: string;
  /** Base64 DER of the signing certificate (PEM armour is stripped). */
  certificatePem: string;
  nameIdFormats: readonly string[];
  singleSignOnServices: ReadonlyArray<{ Binding: string; Location: string }>;
  /** SAML metadata §2.4.3 `WantAuthnRequestsSigned`; samlify checks request signatures by it. Default false. */
  wantAuthnRequestsSigned?: boolean;
}

const escapeXml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export function identityProviderMetadata(settings: IdpMetadataSettings): string {
  return [
    `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${escapeXml(settings.entityId)}">`,
    `<IDPSSODescriptor WantAuthnRequestsSigned="${settings.wantAuthnRequestsSigned === true}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`,
    `<KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(settings.certificatePem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>`,
    ...settings.nameIdFormats.map((format) => `<NameIDFormat>${escapeXml(format)}</NameIDFormat>`),
    ...settings.singleSignOnServices.map((s) => `<SingleSignOnService Binding="${escapeXml(s.Binding)}" Location="${escapeXml(s.Location)}"/>`),
    '</IDPSSODescriptor>',
    '</EntityDescriptor>',
  ].join('');
}
