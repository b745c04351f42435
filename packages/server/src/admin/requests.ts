import { z } from 'zod';
import type { SamlSettingsInput } from '../accounts/saml-settings.ts';
import { InvalidParameterError } from '../errors.ts';
import { MAX_UNIQUE_ID_BYTES, uniqueIdBytes } from '../users/unique-id.ts';

const url = z.string().min(1).max(2048);
const pem = z.string().min(1).max(20_000);
const attributeNames = z.array(z.string().trim().min(1).max(512)).max(10);

/** Admin request bodies (wire names), parsed once at the edge by the admin API and the CLI alike. */
export const schemas = {
  createAccount: z.strictObject({
    friendly_name: z.string().trim().min(1).max(200).optional().describe('A name for people; defaults to "Lanyard account"'),
  }),
  sso: z.strictObject({
    issuer: z.string().min(1).max(1024).optional().describe("The IdP's entity ID (Issuer of its responses)"),
    sso_url: url.optional().describe("The IdP's single sign-on URL (HTTP-Redirect binding)"),
    certificate: pem.optional().describe('IdP signing certificate, PEM or base64 DER'),
    certificates: z.array(pem).min(1).max(10).optional().describe('Several IdP signing certificates (rollover); any of them may sign'),
    metadata_xml: z.string().min(1).max(1_000_000).optional().describe("The IdP's SAML metadata document"),
    metadata_url: url.optional().describe("Where to fetch the IdP's SAML metadata (refreshed on a schedule)"),
    clock_skew_seconds: z.number().int().min(0).max(600).optional().describe('Allowed clock difference for SAML time checks; default 120'),
    entity_id: z.string().min(1).max(1024).optional().describe('Federation metadata (several entities): the entity ID of the IdP to use'),
    sso_binding: z.enum(['redirect', 'post']).optional().describe('With sso_url: how AuthnRequests reach the IdP (default redirect)'),
    sign_authn_requests: z.boolean().optional().describe('Sign AuthnRequests; default: as the IdP metadata asks (WantAuthnRequestsSigned)'),
    allow_rsa15_key_transport: z
      .boolean()
      .optional()
      .describe('Accept encrypted assertions whose key uses RSA PKCS#1 v1.5 (refused by default: padding-oracle attacks)'),
  }),
  spKeyUse: z.enum(['signing', 'encryption']),
  metadataEntities: z.strictObject({
    metadata_xml: z.string().min(1).max(1_000_000).optional().describe('SAML metadata, possibly federation metadata with many entities'),
    metadata_url: url.optional().describe('Where to fetch it'),
  }),
  uniqueIdPolicy: z.strictObject({
    attribute: z
      .string()
      .trim()
      .min(1)
      .max(512)
      .nullable()
      .optional()
      .describe('Take the unique id from this attribute (SAML) or claim (OIDC); null: the NameID / sub (transient NameIDs refused)'),
    case_insensitive_email: z
      .boolean()
      .optional()
      .describe('E-mail-form unique ids match whatever their letter case (true for a new connection; unchanged when omitted)'),
  }),
  relinkUser: z.strictObject({
    unique_id: z
      .string()
      .min(1)
      .max(MAX_UNIQUE_ID_BYTES, 'must be at most 2,000 bytes in UTF-8')
      // What no IdP sends, beyond what sign-ins refuse (users/unique-id.ts). A NUL or an unpaired
      // surrogate never gets here: parseWith refuses it in any field (storage/storable-values.ts).
      .refine((id) => !Array.from(id).some((c) => c < ' ' || c === '\u007f'), 'must not contain control characters')
      .refine((id) => uniqueIdBytes(id) <= MAX_UNIQUE_ID_BYTES, 'must be at most 2,000 bytes in UTF-8')
      .refine((id) => id.trim() === id, 'must not start or end with spaces (sign-ins trim the ids they take from attributes)')
      .describe(
        'The unique id the IdP now sends for this user; stored in lower case when in e-mail form and every connection of the account matches e-mail ids whatever their letter case',
      ),
  }),
  mergeUsers: z.strictObject({
    into: z.string().describe('The user to keep (FU…); the one in the path is removed and its sessions end'),
    adopt_unique_id: z.boolean().optional().describe("Give the kept user the removed one's unique id (default true)"),
  }),
  url: z.strictObject({ url: url.describe('https://host[:port][/path]; http:// only for localhost, 127.0.0.1 and [::1]') }),
  redirectUrl: z.strictObject({ url: url.nullable().describe('Where IdP-initiated logins land; null clears it') }),
  mode: z.strictObject({
    mode: z.enum(['legacy', 'enhanced', 'both']),
    force: z.boolean().optional().describe('Needed to switch back to the previous mode after the 30-day grace period'),
  }),
  idpInitiated: z.strictObject({ enabled: z.boolean() }),
  declaredRoles: z.strictObject({
    roles: z
      .array(
        z
          .string()
          .trim()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'a role is 1 to 64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit'),
      )
      .max(50)
      .describe('Roles recognised beside admin, supervisor and agent, e.g. ["wfo.full_access", "wfo.team_leader"]; [] clears them'),
  }),
  loginPopup: z.strictObject({ enabled: z.boolean().describe('Desktops sign in in a popup window (appConfig sso.loginPopup)') }),
  mapping: z.strictObject({
    full_name: attributeNames.min(1).optional().describe('SAML attribute names tried in order for full_name'),
    email: attributeNames.min(1).optional().describe('SAML attribute names tried in order for email'),
    roles: attributeNames.min(1).optional().describe('SAML attribute names whose values are the roles (multi-valued or comma-separated)'),
    image_url: attributeNames.optional().describe('SAML attribute names tried in order for image_url'),
    role_values: z
      .record(z.string().trim().min(1).max(256), z.string().trim().min(1).max(64))
      .refine((values) => Object.keys(values).length <= 100, 'at most 100 role values')
      .optional()
      .describe('IdP value → Lanyard role, e.g. {"cc-supervisors": "supervisor"}'),
  }),
  oidc: z.strictObject({
    issuer: url.describe("The OpenID Connect provider's issuer URL (discovery at /.well-known/openid-configuration)"),
    client_id: z.string().min(1).max(512).describe('The client registered at the provider for Lanyard'),
    client_secret: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe(
        'Its secret (stored encrypted, never returned). Omitted: the stored secret is kept when issuer and client_id are unchanged; ' +
          'when either changes while a secret is stored, the request is refused (give the new secret, or public_client: true)',
      ),
    public_client: z
      .boolean()
      .optional()
      .describe('true: the client is public (PKCE only, no secret) and any stored secret is removed; not with client_secret'),
    scopes: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe(
        'Scopes to request, space-separated, "openid" among them (OpenID Connect Core §3.1.2.1). Omitted: the stored scopes of the same issuer and client_id, else "openid profile email"',
      ),
  }),
  mappingDryRun: z.strictObject({
    name_id: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe('The unique id the IdP would send (SAML NameID, required for SAML; OIDC sub, taken from the "sub" claim when omitted)'),
    attributes: z
      .record(z.string().min(1).max(512), z.union([z.string().max(4096), z.array(z.string().max(4096)).max(100), z.record(z.string(), z.json())]))
      .describe(
        'Attributes or claims as the IdP would send them; nested claims (realm_access: {roles: [...]}) are named by dotted paths in the mapping',
      ),
  }),
  redirectUris: z.strictObject({
    redirect_uris: z.array(url).max(20).describe('Exact redirect URIs (RFC 9700); loopback ports may vary (RFC 8252)'),
  }),
  verifyToken: z.strictObject({
    token: z.string().min(1).max(8192).describe('An access token issued by this server'),
    account_sid: z.string().optional().describe('Also require the token to belong to this account'),
  }),
  auditQuery: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
};

export type MappingInput = z.infer<typeof schemas.mapping>;
export type OidcInput = z.infer<typeof schemas.oidc>;

/** The SSO body is one of three exclusive forms: explicit fields, metadata XML, or a metadata URL. */
export function samlInput(body: z.infer<typeof schemas.sso>): SamlSettingsInput {
  const forms = [
    body.metadata_xml !== undefined,
    body.metadata_url !== undefined,
    [body.issuer, body.sso_url, body.certificate, body.certificates].some((v) => v !== undefined),
  ];
  if (body.entity_id !== undefined && forms[2])
    throw new InvalidParameterError('entity_id chooses an IdP in metadata: send it with metadata_xml or metadata_url.');
  if (body.sso_binding !== undefined && !forms[2]) throw new InvalidParameterError('sso_binding goes with sso_url; metadata says its own bindings.');
  if (forms.filter(Boolean).length !== 1) {
    throw new InvalidParameterError(
      'Send exactly one of: {issuer, sso_url, certificate | certificates}, {metadata_xml} or {metadata_url} (with an optional clock_skew_seconds).',
    );
  }
  return {
    issuer: body.issuer,
    ssoUrl: body.sso_url,
    certificate: body.certificate,
    certificates: body.certificates,
    metadataXml: body.metadata_xml,
    metadataUrl: body.metadata_url,
    clockSkewSeconds: body.clock_skew_seconds,
    entityId: body.entity_id,
    ssoBinding: body.sso_binding,
    signAuthnRequests: body.sign_authn_requests,
    allowRsa15KeyTransport: body.allow_rsa15_key_transport,
  };
}
