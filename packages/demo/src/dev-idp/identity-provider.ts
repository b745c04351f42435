import samlify from 'samlify';
import { identityProviderMetadata } from './idp-metadata.ts';

export const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
export const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const BASIC_NAME_FORMAT = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';

const SIGNATURE_ALGORITHMS = {
  sha256: samlify.Constants.algorithms.signature.RSA_SHA256,
  sha512: samlify.Constants.algorithms.signature.RSA_SHA512,
} as const;
export type SignatureAlgorithm = keyof typeof SIGNATURE_ALGORITHMS;

// samlify refuses to parse any inbound message until a schema validator is set. The validators
// it offers pull in a JVM (xsd-schema-validator) or a wasm libxml2; a development IdP that only
// reads AuthnRequests from a server on the same machine does not need XSD validation, so it
// skips it. This is process-wide in samlify, which is why only the dev IdP module sets it:
// Lanyard's server verifies with its own checks over xml-crypto and never imports samlify.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

/**
 * The user attributes, in the names Lanyard maps by default (SPEC: Users). samlify bakes them
 * into the login-response template as `<saml:Attribute>` elements whose single AttributeValue
 * holds the placeholder `{attr<ValueTag in camel case>}` — `{attrFullName}`, `{attrEmail}`,
 * `{attrRoles}`; login-response.ts fills them (and repeats the `roles` value once per role).
 */
export const ATTRIBUTES = [
  { name: 'full_name', valueTag: 'full_name', placeholder: 'attrFullName' },
  { name: 'email', valueTag: 'email', placeholder: 'attrEmail' },
  { name: 'roles', valueTag: 'roles', placeholder: 'attrRoles' },
] as const;

export interface IdentityProviderSettings {
  entityId: string;
  ssoUrl: string;
  privateKeyPem: string;
  certificatePem: string;
  signatureAlgorithm?: SignatureAlgorithm;
}

/** samlify's IdP entity: our entity ID, signing key and certificate, endpoints and template. */
export function createIdentityProvider(settings: IdentityProviderSettings) {
  return samlify.IdentityProvider({
    // Entity ID, certificate, NameID format and endpoints come from this document (no SLO).
    metadata: identityProviderMetadata({
      entityId: settings.entityId,
      certificatePem: settings.certificatePem,
      nameIdFormats: [EMAIL_FORMAT],
      singleSignOnServices: [
        { Binding: REDIRECT_BINDING, Location: settings.ssoUrl },
        { Binding: POST_BINDING, Location: settings.ssoUrl },
      ],
    }),
    privateKey: settings.privateKeyPem,
    // samlify signs responses with the algorithm named "requestSignatureAlgorithm" (and derives
    // the digest from it: RSA-SHA256 → SHA-256).
    requestSignatureAlgorithm: SIGNATURE_ALGORITHMS[settings.signatureAlgorithm ?? 'sha256'],
    // A dev IdP answers unsigned requests (Lanyard may or may not sign them).
    wantAuthnRequestsSigned: false,
    loginResponseTemplate: {
      context: samlify.SamlLib.defaultLoginResponseTemplate.context,
      attributes: ATTRIBUTES.map((a) => ({ name: a.name, valueTag: a.valueTag, nameFormat: BASIC_NAME_FORMAT, valueXsiType: 'xs:string' })),
    },
  });
}

export type SamlifyIdentityProvider = ReturnType<typeof createIdentityProvider>;

/** The SP as samlify needs it to build a response: built per response from the request or registry. */
export function createServiceProvider(entityId: string, acsUrl: string, signing: { signAssertion: boolean; signResponse: boolean }) {
  return samlify.ServiceProvider({
    entityID: entityId,
    assertionConsumerService: [{ Binding: POST_BINDING, Location: acsUrl }],
    // samlify decides what to sign from the SP's wishes: the Assertion when it wants signed
    // assertions, the Response when it wants signed messages OR unsigned assertions (so it
    // can never emit a wholly unsigned response; login-response.ts handles that case itself).
    wantAssertionsSigned: signing.signAssertion,
    wantMessageSigned: signing.signResponse,
  });
}
