import { z } from 'zod';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../clients/model.ts';
import { ID_TOKEN_ALGS } from '../tokens/signing-keys.ts';

/**
 * The admin API's response shapes (snake_case wire names), written once: the mappers in
 * resources.ts and client-admin.ts return these types, openapi.ts generates the document's
 * `components.schemas` from these schemas (`z.toJSONSchema`), and the console imports the
 * inferred types (`import type … from '../../server/src/admin/responses.ts'`).
 *
 * Each component carries its OpenAPI name as its zod `id` (`.meta({ id })`), so a schema that
 * uses another is generated with a `$ref` to it. Times are ISO 8601 strings (UTC).
 */
/** A Twilio-style SID: two letters and 32 hex digits. */
export const sid = (prefix: string, description: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`))
    .describe(description);
const dateTime = (description?: string) => {
  const schema = z.iso.datetime();
  return description ? schema.describe(description) : schema;
};
const integer = (description?: string) => {
  const schema = z.number().int();
  return description ? schema.describe(description) : schema;
};

export const ErrorBody = z
  .object({
    code: integer('Lanyard error code, e.g. 20001 invalid parameter, 20003 authentication, 20404 not found'),
    message: z.string().describe('What went wrong and how to fix it'),
    status: integer(),
    more_info: z.string().optional(),
  })
  .meta({ id: 'Error' });

export const SsoMode = z.enum(['legacy', 'enhanced', 'both']).meta({ id: 'SsoMode' });

export const AccountSummary = z
  .object({
    sid: sid('AC', 'Account SID'),
    friendly_name: z.string(),
    instance_sid: sid('GO', 'Flex instance SID'),
    sso_mode: SsoMode,
    created_at: dateTime(),
  })
  .meta({ id: 'AccountSummary' });

export const ServiceProvider = z
  .object({
    entity_id: z.string().describe('SP entity ID to register at the IdP'),
    acs_url: z.string().describe('Assertion Consumer Service URL'),
    metadata_url: z.string().describe('SP metadata URL'),
  })
  .meta({ id: 'ServiceProvider' });

export const Certificate = z
  .object({
    subject: z.string(),
    issuer: z.string(),
    valid_from: dateTime(),
    valid_to: dateTime(),
    fingerprint_sha256: z.string(),
    days_left: integer('Negative once expired'),
  })
  .meta({ id: 'Certificate' });

export const AttributeMapping = z
  .object({
    full_name: z.array(z.string().describe('SAML attribute or OpenID Connect claim name (nested claims as dotted paths), tried in order')),
    email: z.array(z.string().describe('SAML attribute or OpenID Connect claim name (nested claims as dotted paths), tried in order')),
    roles: z.array(z.string().describe('SAML attribute or OpenID Connect claim name; every value is a role (or a comma-separated list)')),
    image_url: z.array(z.string().describe('SAML attribute or OpenID Connect claim name (nested claims as dotted paths), tried in order')),
    role_values: z.record(z.string(), z.string()).describe('IdP value → Lanyard role'),
  })
  .meta({ id: 'AttributeMapping' });

export const OidcProvider = z
  .object({
    issuer: z.string().describe("The OpenID Connect provider's issuer URL (its discovery document is at /.well-known/openid-configuration)"),
    upstream_client_id: z
      .string()
      .describe("The client ID registered at the provider for Lanyard (set-oidc's client_id); not the connection's client_id, Lanyard's own client"),
    scopes: z.string().describe('Scopes requested from the provider, space-separated'),
    client_secret_stored: z.boolean().describe('Whether a client secret is stored (encrypted; never shown); false: a public client, PKCE only'),
    redirect_uri: z.string().describe('The redirect URI to register at the provider (<public URL>/login/oidc/callback)'),
  })
  .meta({ id: 'OidcProvider' });

export const Connection = z
  .object({
    sid: sid('JQ', 'Connection SID (connection_name, ssoProfileSid)'),
    account_sid: sid('AC', 'Account SID'),
    client_id: z.string(),
    protocol: z.enum(['saml', 'oidc']),
    issuer: z.string().describe("IdP entity ID (SAML), or the OpenID Connect provider's issuer URL").nullable(),
    sso_url: z.string().describe('IdP SSO URL').nullable(),
    sso_binding: z.enum(['redirect', 'post']).describe('How AuthnRequests reach the IdP').nullable(),
    sign_authn_requests: z.boolean().describe('Whether AuthnRequests are signed').nullable(),
    want_authn_requests_signed: z.boolean().describe('The IdP metadata asks for signed AuthnRequests').nullable(),
    metadata_url: z.string().describe('Where the IdP metadata is refreshed from').nullable(),
    metadata_entity_id: z.string().describe('The IdP entity chosen in federation metadata').nullable(),
    clock_skew_seconds: integer().nullable(),
    certificates: z.array(Certificate),
    oidc: OidcProvider.describe('How the OpenID Connect provider is configured; null for a SAML connection or one without an IdP yet').nullable(),
    redirect_uris: z.array(z.string().describe('Exact redirect URI for the standard OIDC surface')),
    unique_id: z.object({
      attribute: z.string().describe('Attribute or claim the unique id is taken from; null: the NameID / sub').nullable(),
      case_insensitive_email: z.boolean().describe('E-mail-form unique ids match whatever their letter case'),
    }),
    mapping: AttributeMapping,
    service_provider: ServiceProvider,
    created_at: dateTime(),
  })
  .meta({ id: 'Connection' });

export const SpKey = z
  .object({
    id: z.string(),
    use: z.enum(['signing', 'encryption']),
    generation: integer(),
    current: z.boolean().describe('The newest key: signs, and is the one to give the IdP'),
    certificate: z.string().describe('PEM certificate, also in the SP metadata'),
    created_at: dateTime(),
  })
  .meta({ id: 'SpKey' });

export const SpKeys = z.object({ connection_sid: sid('JQ', 'Connection SID'), keys: z.array(SpKey) }).meta({ id: 'SpKeys' });

export const MetadataEntities = z
  .object({ entity_ids: z.array(z.string().describe('An IdP entity ID (IDPSSODescriptor) in the metadata')) })
  .meta({ id: 'MetadataEntities' });

export const Readiness = z
  .object({ ready: z.boolean(), missing: z.array(z.string().describe('One thing still to do, with the CLI command that does it')) })
  .meta({ id: 'Readiness' });

export const SetupReport = z.object({ enhanced: Readiness, legacy: Readiness, warnings: z.array(z.string()) }).meta({ id: 'SetupReport' });

export const Account = AccountSummary.extend({
  previous_mode: SsoMode.nullable(),
  mode_changed_at: dateTime().nullable(),
  mode_revert_deadline: dateTime('Until then, switching back to previous_mode needs no force').nullable(),
  trusted_urls: z.array(z.string()),
  default_redirect_url: z.string().nullable(),
  idp_initiated_login: z.boolean(),
  login_popup: z.boolean().describe('Desktops sign in in a popup window (appConfig sso.loginPopup)'),
  declared_roles: z.array(z.string().describe('A role recognised beside admin, supervisor and agent (lower case)')),
  legacy_service_provider: ServiceProvider,
  connections: z.array(Connection),
  setup: SetupReport,
}).meta({ id: 'Account' });

export const AccountCreated = Account.extend({
  auth_token: z.string().describe('Account auth token for Tokens/validate (Basic auth). Shown once.'),
}).meta({ id: 'AccountCreated' });

export const AuthTokenRotated = z
  .object({
    account_sid: z.string(),
    auth_token: z
      .string()
      .describe(
        'The new auth token for Tokens/validate (Basic auth). Shown once; the previous one no longer works. Each replacement undoes the one before: of two at once, only the later token works.',
      ),
  })
  .meta({ id: 'AuthTokenRotated' });

const AppConfigSnippet = z.object({ app_config: z.record(z.string(), z.unknown()), script: z.string() });
export const AppConfig = z
  .object({
    account_sid: sid('AC', 'Account SID'),
    lookup_url: z.string().describe('The public lookup URL of this account'),
    enhanced: AppConfigSnippet.extend({ script: z.string().describe('appConfig.js for enhanced SSO') }).nullable(),
    legacy: AppConfigSnippet.extend({ script: z.string().describe('appConfig.js for legacy SSO') }).nullable(),
    notes: z.array(z.string().describe('What to fix before the snippet works')),
  })
  .meta({ id: 'AppConfig' });

export const TrustedUrls = z.object({ trusted_urls: z.array(z.string()), default_redirect_url: z.string().nullable() }).meta({ id: 'TrustedUrls' });

export const AuthConfig = z
  .object({
    config_list: z.array(
      z.object({
        account_sid: z.string(),
        instance_sid: z.string(),
        connection_name: z.string(),
        client_id: z.string(),
        active: z.boolean(),
        app_type: z.literal('SinglePageApp'),
      }),
    ),
  })
  .meta({ id: 'AuthConfig' });

export const AuditEvent = z
  .object({
    type: z.enum(['login.succeeded', 'login.failed', 'token.refresh_reuse', 'code.replayed', 'admin.change']),
    at: dateTime(),
    account_sid: z.string().nullable(),
    connection_sid: z.string().nullable(),
    user_sid: z.string().nullable(),
    unique_id: z.string().nullable(),
    surface: z.string().nullable(),
    code: integer().nullable(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' });

export const User = z
  .object({
    sid: sid('FU', 'User SID'),
    worker_sid: sid('WK', 'Worker SID'),
    account_sid: sid('AC', 'Account SID'),
    unique_id: z.string().describe('SAML NameID or OIDC sub'),
    identity: z.string().describe('Encoded identity'),
    full_name: z.string(),
    email: z.string(),
    roles: z.array(z.string()),
    image_url: z.string().nullable(),
    disabled: z.boolean(),
    created_at: dateTime(),
    last_login_at: dateTime(),
  })
  .meta({ id: 'User' });

export const MergedUser = z
  .object({ merged_user_sid: sid('FU', 'The duplicate, removed'), revoked_sessions: integer(), user: User })
  .meta({ id: 'MergedUser' });

export const SessionsRevoked = z
  .object({ account_sid: z.string().optional(), user_sid: z.string().optional(), revoked_sessions: integer() })
  .meta({ id: 'SessionsRevoked' });

export const TokenInspection = z
  .object({
    valid: z.boolean(),
    code: integer('0 when valid'),
    message: z.string().nullable(),
    claims: z
      .record(z.string(), z.unknown())
      .describe('Verified access-token claims (iss, sub, aud, exp, sid, account_sid, identity, roles…)')
      .nullable(),
    expires_at: dateTime().nullable(),
    session: z
      .object({
        id: z.string(),
        active: z.boolean().nullable(),
        surface: z.string().nullable(),
        auth_time: dateTime().nullable(),
        max_expires_at: dateTime().nullable(),
      })
      .nullable(),
    user: z.object({ sid: z.string(), exists: z.boolean(), disabled: z.boolean() }).nullable(),
  })
  .meta({ id: 'TokenInspection' });

export const SigningKey = z
  .object({
    kid: z.string(),
    alg: z.enum(ID_TOKEN_ALGS).describe('ES256 signs access tokens; RS256 and ES256 sign ID tokens (per client)'),
    active: z.boolean().describe('Signs new tokens'),
    created_at: dateTime(),
    retired_at: dateTime().nullable(),
  })
  .meta({ id: 'SigningKey' });

export const SigningKeys = z.object({ keys: z.array(SigningKey) }).meta({ id: 'SigningKeys' });

export const Client = z
  .object({
    client_id: z.string().describe('lc_…; the client authenticates with it'),
    account_sid: sid('AC', 'Account SID'),
    connection_sid: sid('JQ', "The connection whose IdP signs the client's users in"),
    name: z.string(),
    token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS),
    redirect_uris: z.array(z.string()),
    jwks: z
      .object({ keys: z.array(z.record(z.string(), z.unknown())) })
      .describe('Public keys for private_key_jwt')
      .nullable(),
    id_token_signed_response_alg: z.enum(ID_TOKEN_ALGS),
    secrets: z.array(z.object({ id: z.string(), created_at: dateTime(), expires_at: dateTime('The previous secret stops working then').nullable() })),
    created_at: dateTime(),
  })
  .meta({ id: 'Client' });

export const ClientWithSecret = Client.extend({
  client_secret: z.string().describe('Shown once; store it now (Lanyard keeps only a hash)'),
}).meta({ id: 'ClientWithSecret' });

// Envelopes of lists and of a few answers; inline in the document, not components.
export const AccountList = z.object({ accounts: z.array(AccountSummary) });
export const AuditEventList = z.object({ events: z.array(AuditEvent) });
export const UserList = z.object({ users: z.array(User) });
export const SigningKeyRotated = SigningKeys.extend({ kid: z.string().describe('The new signing key') });
export const ClientList = z.object({ clients: z.array(Client) });
export const ClientDeleted = z.object({ client_id: z.string(), deleted: z.boolean() });
export const ClientSecretRotated = ClientWithSecret.extend({ secret_id: z.string() });

/** Every named component, in the order the document lists them. */
export const responseComponents = [
  ErrorBody,
  AccountSummary,
  SsoMode,
  ServiceProvider,
  Certificate,
  OidcProvider,
  Connection,
  SpKey,
  MetadataEntities,
  MergedUser,
  SpKeys,
  AttributeMapping,
  Readiness,
  SetupReport,
  Account,
  AccountCreated,
  AuthTokenRotated,
  AppConfig,
  TrustedUrls,
  AuthConfig,
  AuditEvent,
  User,
  SessionsRevoked,
  TokenInspection,
  SigningKey,
  SigningKeys,
  Client,
  ClientWithSecret,
] as const;

// The wire types, for the server's mappers and the console (`import type`).
export type SsoMode = z.infer<typeof SsoMode>;
export type AccountSummary = z.infer<typeof AccountSummary>;
export type ServiceProvider = z.infer<typeof ServiceProvider>;
export type Certificate = z.infer<typeof Certificate>;
export type AttributeMapping = z.infer<typeof AttributeMapping>;
export type OidcProvider = z.infer<typeof OidcProvider>;
export type Connection = z.infer<typeof Connection>;
export type SpKey = z.infer<typeof SpKey>;
export type SpKeys = z.infer<typeof SpKeys>;
export type Readiness = z.infer<typeof Readiness>;
export type SetupReport = z.infer<typeof SetupReport>;
export type Account = z.infer<typeof Account>;
export type AccountCreated = z.infer<typeof AccountCreated>;
export type AuthTokenRotated = z.infer<typeof AuthTokenRotated>;
export type AppConfig = z.infer<typeof AppConfig>;
export type AppConfigSnippet = z.infer<typeof AppConfigSnippet>;
export type TrustedUrls = z.infer<typeof TrustedUrls>;
export type AuthConfig = z.infer<typeof AuthConfig>;
export type AuditEvent = z.infer<typeof AuditEvent>;
export type User = z.infer<typeof User>;
export type MergedUser = z.infer<typeof MergedUser>;
export type SessionsRevoked = z.infer<typeof SessionsRevoked>;
export type TokenInspection = z.infer<typeof TokenInspection>;
export type SigningKey = z.infer<typeof SigningKey>;
export type Client = z.infer<typeof Client>;
export type ClientWithSecret = z.infer<typeof ClientWithSecret>;
export type ClientSecretRotated = z.infer<typeof ClientSecretRotated>;
export type AccountList = z.infer<typeof AccountList>;
export type AuditEventList = z.infer<typeof AuditEventList>;
export type UserList = z.infer<typeof UserList>;
export type SigningKeys = z.infer<typeof SigningKeys>;
export type SigningKeyRotated = z.infer<typeof SigningKeyRotated>;
export type ClientList = z.infer<typeof ClientList>;
export type ClientDeleted = z.infer<typeof ClientDeleted>;
