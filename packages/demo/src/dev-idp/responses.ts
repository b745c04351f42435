import samlify from 'samlify';
import { randomBytes } from 'node:crypto';
import type { DevUser } from './users.ts';

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

// samlify validates inbound XML through a pluggable schema validator. The dev IdP only reads
// AuthnRequests from our own server on loopback, so it skips XSD validation; production
// IdPs (Okta, Entra ID…) are what Lanyard talks to in real deployments.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

export interface ResponseOptions {
  user: DevUser;
  acsUrl: string;
  /** The SP's entity ID (Audience). */
  audience: string;
  /** The AuthnRequest ID; omitted for an IdP-initiated (unsolicited) response. */
  inResponseTo?: string;
  relayState?: string;
  signResponse?: boolean;
  signAssertion?: boolean;
  /** Validity window of the assertion, in seconds from now (default 300). */
  lifetimeSeconds?: number;
}

export type SignedResponse = { SAMLResponse: string; RelayState?: string };

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** samlify's IdP entity for our entity ID, key and certificate. */
export function createIdentityProvider(entityId: string, ssoUrl: string, privateKeyPem: string, certificatePem: string) {
  return samlify.IdentityProvider({
    entityID: entityId,
    privateKey: privateKeyPem,
    signingCert: certificatePem,
    nameIDFormat: [EMAIL_FORMAT],
    requestSignatureAlgorithm: RSA_SHA256,
    singleSignOnService: [
      { Binding: REDIRECT, Location: ssoUrl },
      { Binding: POST, Location: ssoUrl },
    ],
  });
}

export type SamlifyIdp = ReturnType<typeof createIdentityProvider>;

/**
 * A signed SAML Response for `user`, built by samlify from its default login-response template.
 * The attribute statement carries `full_name`, `email` and multi-valued `roles`.
 */
export async function createSignedResponse(idp: SamlifyIdp, options: ResponseOptions): Promise<SignedResponse> {
  const sp = samlify.ServiceProvider({
    entityID: options.audience,
    assertionConsumerService: [{ Binding: POST, Location: options.acsUrl }],
    wantAssertionsSigned: options.signAssertion ?? true,
    wantMessageSigned: options.signResponse ?? true,
  });
  const now = new Date();
  const until = new Date(now.getTime() + (options.lifetimeSeconds ?? 300) * 1000);
  const id = '_' + randomBytes(20).toString('hex');
  const attributes = attributeStatement(options.user);
  const values = {
    ID: id,
    AssertionID: '_' + randomBytes(20).toString('hex'),
    Destination: options.acsUrl,
    Audience: options.audience,
    EntityID: options.audience,
    SubjectRecipient: options.acsUrl,
    Issuer: idp.entityMeta.getEntityID(),
    IssueInstant: now.toISOString(),
    StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
    ConditionsNotBefore: new Date(now.getTime() - 60_000).toISOString(),
    ConditionsNotOnOrAfter: until.toISOString(),
    SubjectConfirmationDataNotOnOrAfter: until.toISOString(),
    NameIDFormat: EMAIL_FORMAT,
    NameID: options.user.id,
    InResponseTo: options.inResponseTo ?? null,
    AuthnStatement: 'AUTHN_STATEMENT',
    AttributeStatement: 'ATTRIBUTE_STATEMENT',
  };
  const context = await idp.createLoginResponse(sp, { extract: { request: { id: options.inResponseTo ?? '' } } } as never, 'post', { email: options.user.id }, {
    relayState: options.relayState,
    customTagReplacement: (template: string) => ({
      id,
      context: samlify.SamlLib.replaceTagsByValue(template, values)
        .replace('AUTHN_STATEMENT', authnStatement(now))
        .replace('ATTRIBUTE_STATEMENT', attributes),
    }),
  });
  return { SAMLResponse: context.context, ...(options.relayState ? { RelayState: options.relayState } : {}) };
}

function authnStatement(now: Date): string {
  return `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_${randomBytes(8).toString('hex')}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
}

function attributeStatement(user: DevUser): string {
  const attribute = (name: string, values: string[]) =>
    values.length === 0
      ? ''
      : `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values
          .map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`)
          .join('')}</saml:Attribute>`;
  return `<saml:AttributeStatement>${attribute('full_name', [user.full_name])}${attribute('email', [user.email])}${attribute('roles', user.roles)}</saml:AttributeStatement>`;
}
