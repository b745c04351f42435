import samlify from 'samlify';
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { SigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { POST_BINDING, REDIRECT_BINDING } from '../../packages/demo/src/dev-idp/identity-provider.ts';
import { identityProviderMetadata } from '../../packages/demo/src/dev-idp/idp-metadata.ts';

// The dev IdP module sets samlify's (process-wide) schema validator; this one needs it too.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const TRANSIENT_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
export const ALGORITHMS = samlify.Constants.algorithms.encryption;

/**
 * samlify configured as the enterprise IdPs of issue 14 are: encrypting assertions (choice of
 * key transport and content algorithm), demanding signed AuthnRequests, offering only the
 * HTTP-POST binding. It reads Lanyard's AuthnRequests with its own parser and signature checks,
 * and encrypts to the certificate in Lanyard's SP metadata.
 */
export interface EnterpriseIdpOptions {
  credentials: SigningCredentials;
  entityId?: string;
  encrypt?: { data: string; key: string };
  wantAuthnRequestsSigned?: boolean;
  bindings?: Array<'redirect' | 'post'>;
}

export interface UserClaims {
  nameId: string;
  nameIdFormat?: 'email' | 'transient';
  email: string;
  fullName: string;
  roles: string[];
}

export interface ReadRequest {
  id: string;
  issuer: string;
  acsUrl: string;
  relayState: string;
  forceAuthn: boolean;
  /** Whether samlify found (and verified) a signature on the request. */
  signed: boolean;
}

const SSO_URL = 'https://idp.example.test/sso';

export function createEnterpriseIdp(options: EnterpriseIdpOptions) {
  const bindings = options.bindings ?? ['redirect', 'post'];
  const idp = samlify.IdentityProvider({
    // From a metadata document, as the dev IdP does: built from options, samlify warns "missing
    // endpoint of SingleLogoutService" at every construction (this IdP has no single logout).
    metadata: identityProviderMetadata({
      entityId: options.entityId ?? 'https://idp.example.test/metadata',
      certificatePem: options.credentials.certificatePem,
      nameIdFormats: [EMAIL_FORMAT],
      singleSignOnServices: bindings.map((b) => ({ Binding: b === 'redirect' ? REDIRECT_BINDING : POST_BINDING, Location: SSO_URL })),
      wantAuthnRequestsSigned: options.wantAuthnRequestsSigned ?? false,
    }),
    privateKey: options.credentials.privateKeyPem,
    requestSignatureAlgorithm: samlify.Constants.algorithms.signature.RSA_SHA256,
    isAssertionEncrypted: options.encrypt !== undefined,
    ...(options.encrypt ? { dataEncryptionAlgorithm: options.encrypt.data, keyEncryptionAlgorithm: options.encrypt.key } : {}),
    loginResponseTemplate: {
      context: samlify.SamlLib.defaultLoginResponseTemplate.context,
      attributes: [
        { name: 'email', valueTag: 'email', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', valueXsiType: 'xs:string' },
        { name: 'full_name', valueTag: 'full_name', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', valueXsiType: 'xs:string' },
        { name: 'roles', valueTag: 'roles', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', valueXsiType: 'xs:string' },
      ],
    },
  });

  /** Lanyard as samlify sees it: from its published SP metadata, or with an explicit encryption certificate. */
  function serviceProvider(spMetadataXml: string, encryptTo?: string) {
    if (!encryptTo) return samlify.ServiceProvider({ metadata: spMetadataXml });
    const fromMetadata = samlify.ServiceProvider({
      metadata: spMetadataXml.replace(/<md:KeyDescriptor use="encryption">.*?<\/md:KeyDescriptor>/g, ''),
    });
    return samlify.ServiceProvider({
      entityID: fromMetadata.entityMeta.getEntityID(),
      assertionConsumerService: [{ Binding: POST_BINDING, Location: fromMetadata.entityMeta.getAssertionConsumerService(POST_BINDING) as string }],
      signingCert: fromMetadata.entityMeta.getX509Certificate('signing') as string,
      encryptCert: encryptTo,
      wantAssertionsSigned: true,
    });
  }

  return {
    metadataXml: idp.getMetadata(),
    ssoUrl: SSO_URL,

    /**
     * Reads the AuthnRequest the browser brings: the IdP URL (HTTP-Redirect) or the fields of
     * the form Lanyard's POST page submits. Throws when samlify refuses it (a bad or missing
     * signature while signed requests are demanded).
     */
    async readRequest(spMetadataXml: string, carried: { url: string } | { fields: Record<string, string> }): Promise<ReadRequest> {
      const sp = serviceProvider(spMetadataXml);
      let parsed: { extract: Record<string, unknown>; sigAlg?: string };
      let relayState: string;
      let signed: boolean;
      if ('url' in carried) {
        const url = new URL(carried.url);
        const query = Object.fromEntries(url.searchParams);
        // The octets the signature covers: the query as sent, without the Signature (bindings §3.4.4.1).
        const octetString = url.search
          .slice(1)
          .split('&')
          .filter((p) => !p.startsWith('Signature='))
          .join('&');
        parsed = (await idp.parseLoginRequest(sp, 'redirect', { query, octetString })) as typeof parsed;
        relayState = query.RelayState ?? '';
        signed = 'Signature' in query;
      } else {
        parsed = (await idp.parseLoginRequest(sp, 'post', { body: carried.fields })) as typeof parsed;
        relayState = carried.fields.RelayState ?? '';
        signed = Buffer.from(carried.fields.SAMLRequest ?? '', 'base64')
          .toString('utf8')
          .includes('SignatureValue');
      }
      const request = parsed.extract.request as { id: string; assertionConsumerServiceUrl: string };
      // samlify's extractor leaves ForceAuthn out: read it from the request XML itself.
      const encoded = 'url' in carried ? (new URL(carried.url).searchParams.get('SAMLRequest') ?? '') : (carried.fields.SAMLRequest ?? '');
      const bytes = Buffer.from(encoded, 'base64');
      const xml = ('url' in carried ? inflateRawSync(bytes) : bytes).toString('utf8');
      return {
        id: request.id,
        issuer: String(parsed.extract.issuer),
        acsUrl: request.assertionConsumerServiceUrl,
        relayState,
        forceAuthn: /\sForceAuthn="(true|1)"/.test(xml),
        signed,
      };
    },

    /**
     * A signed (and, when configured, encrypted) response to `request` for `user`. Its
     * AuthnStatement says PasswordProtectedTransport unless `authnContextClassRef` names another class.
     */
    async respond(
      spMetadataXml: string,
      request: ReadRequest,
      user: UserClaims,
      options: { encryptTo?: string; authnInstant?: Date; authnContextClassRef?: string } = {},
    ) {
      const sp = serviceProvider(spMetadataXml, options.encryptTo);
      const now = new Date();
      const later = new Date(now.getTime() + 300_000).toISOString();
      const values: Record<string, string> = {
        ID: '_' + randomBytes(16).toString('hex'),
        AssertionID: '_' + randomBytes(16).toString('hex'),
        Destination: request.acsUrl,
        Audience: request.issuer,
        EntityID: request.issuer,
        SubjectRecipient: request.acsUrl,
        Issuer: idp.entityMeta.getEntityID(),
        IssueInstant: now.toISOString(),
        AssertionConsumerServiceURL: request.acsUrl,
        StatusCode: samlify.Constants.StatusCode.Success,
        ConditionsNotBefore: new Date(now.getTime() - 60_000).toISOString(),
        ConditionsNotOnOrAfter: later,
        SubjectConfirmationDataNotOnOrAfter: later,
        NameIDFormat: user.nameIdFormat === 'transient' ? TRANSIENT_FORMAT : EMAIL_FORMAT,
        NameID: user.nameId,
        InResponseTo: request.id,
      };
      // replaceTagsByValue escapes values, so the element goes into the template first.
      const authnStatement =
        `<saml:AuthnStatement AuthnInstant="${(options.authnInstant ?? now).toISOString()}" SessionIndex="_s${randomBytes(8).toString('hex')}">` +
        `<saml:AuthnContext><saml:AuthnContextClassRef>${options.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
      const attributes: Record<string, string> = {
        attrEmail: user.email,
        attrFullName: user.fullName,
        attrRoles: user.roles.join(','),
      };
      const result = await idp.createLoginResponse(
        sp,
        { extract: { request: { id: request.id } } },
        'post',
        { email: user.email },
        {
          relayState: request.relayState,
          customTagReplacement: (template: string) => ({
            id: values.ID!,
            context: samlify.SamlLib.replaceTagsByValue(template.replace('{AuthnStatement}', authnStatement), { ...values, ...attributes }),
          }),
        },
      );
      return { SAMLResponse: result.context, RelayState: request.relayState };
    },
  };
}

export type EnterpriseIdp = ReturnType<typeof createEnterpriseIdp>;

/** The hidden fields and action of Lanyard's HTTP-POST binding page, and its CSP. */
export async function readPostPage(url: string): Promise<{ action: string; fields: Record<string, string>; csp: string; html: string }> {
  const response = await fetch(url);
  const html = await response.text();
  if (response.status !== 200) throw new Error(`the POST page answered ${response.status}: ${html.slice(0, 300)}`);
  const decode = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
  const action = decode(/<form method="post" action="([^"]*)"/.exec(html)?.[1] ?? '');
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[decode(m[1]!)] = decode(m[2]!);
  return { action, fields, csp: response.headers.get('content-security-policy') ?? '', html };
}
