/** JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the admin API's responses: the shapes of resources.ts. */
export type Json = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const str = (description?: string, extra: Json = {}) => ({ type: 'string', ...(description ? { description } : {}), ...extra });
export const nullable = (schema: Json) => ({ anyOf: [schema, { type: 'null' }] });
export const dateTime = (description?: string) => str(description, { format: 'date-time' });
export const sid = (prefix: string, description: string) => str(description, { pattern: `^${prefix}[0-9a-fA-F]{32}$` });
export const object = (properties: Record<string, Json>, required = Object.keys(properties)) => ({ type: 'object', properties, required });
export const arrayOf = (items: Json) => ({ type: 'array', items });

export const componentSchemas: Record<string, Json> = {
  Error: {
    ...object(
      {
        code: { type: 'integer', description: 'Lanyard error code, e.g. 20001 invalid parameter, 20003 authentication, 20404 not found' },
        message: str('What went wrong and how to fix it'),
        status: { type: 'integer' },
        more_info: str(),
      },
      ['code', 'message', 'status'],
    ),
  },
  AccountSummary: object({
    sid: sid('AC', 'Account SID'),
    friendly_name: str(),
    instance_sid: sid('GO', 'Flex instance SID'),
    sso_mode: ref('SsoMode'),
    created_at: dateTime(),
  }),
  SsoMode: { type: 'string', enum: ['legacy', 'enhanced', 'both'] },
  ServiceProvider: object({
    entity_id: str('SP entity ID to register at the IdP'),
    acs_url: str('Assertion Consumer Service URL'),
    metadata_url: str('SP metadata URL'),
  }),
  Certificate: object({
    subject: str(),
    issuer: str(),
    valid_from: dateTime(),
    valid_to: dateTime(),
    fingerprint_sha256: str(),
    days_left: { type: 'integer', description: 'Negative once expired' },
  }),
  Connection: object({
    sid: sid('JQ', 'Connection SID (connection_name, ssoProfileSid)'),
    account_sid: sid('AC', 'Account SID'),
    client_id: str(),
    protocol: { type: 'string', enum: ['saml'] },
    issuer: nullable(str('IdP entity ID')),
    sso_url: nullable(str('IdP SSO URL (HTTP-Redirect binding)')),
    metadata_url: nullable(str('Where the IdP metadata is refreshed from')),
    clock_skew_seconds: nullable({ type: 'integer' }),
    certificates: arrayOf(ref('Certificate')),
    redirect_uris: arrayOf(str('Exact redirect URI for the standard OIDC surface')),
    mapping: ref('AttributeMapping'),
    service_provider: ref('ServiceProvider'),
    created_at: dateTime(),
  }),
  AttributeMapping: object({
    full_name: arrayOf(str('SAML attribute name, tried in order')),
    email: arrayOf(str('SAML attribute name, tried in order')),
    roles: arrayOf(str('SAML attribute name; every value is a role (or a comma-separated list)')),
    image_url: arrayOf(str('SAML attribute name, tried in order')),
    role_values: { type: 'object', additionalProperties: { type: 'string' }, description: 'IdP value → Lanyard role' },
  }),
  Readiness: object({ ready: { type: 'boolean' }, missing: arrayOf(str('One thing still to do, with the CLI command that does it')) }),
  SetupReport: object({ enhanced: ref('Readiness'), legacy: ref('Readiness'), warnings: arrayOf(str()) }),
  Account: {
    allOf: [
      ref('AccountSummary'),
      object({
        previous_mode: nullable(ref('SsoMode')),
        mode_changed_at: nullable(dateTime()),
        mode_revert_deadline: nullable(dateTime('Until then, switching back to previous_mode needs no force')),
        trusted_urls: arrayOf(str()),
        default_redirect_url: nullable(str()),
        idp_initiated_login: { type: 'boolean' },
        login_popup: { type: 'boolean', description: 'Desktops sign in in a popup window (appConfig sso.loginPopup)' },
        declared_roles: arrayOf(str('A role recognised beside admin, supervisor and agent (lower case)')),
        legacy_service_provider: ref('ServiceProvider'),
        connections: arrayOf(ref('Connection')),
        setup: ref('SetupReport'),
      }),
    ],
  },
  AccountCreated: { allOf: [ref('Account'), object({ auth_token: str('Account auth token for Tokens/validate (Basic auth). Shown once.') })] },
  AppConfig: object({
    account_sid: sid('AC', 'Account SID'),
    lookup_url: str('The public lookup URL of this account'),
    enhanced: nullable(object({ app_config: { type: 'object' }, script: str('appConfig.js for enhanced SSO') })),
    legacy: nullable(object({ app_config: { type: 'object' }, script: str('appConfig.js for legacy SSO') })),
    notes: arrayOf(str('What to fix before the snippet works')),
  }),
  TrustedUrls: object({ trusted_urls: arrayOf(str()), default_redirect_url: nullable(str()) }),
  AuthConfig: object({
    config_list: arrayOf(
      object({
        account_sid: str(),
        instance_sid: str(),
        connection_name: str(),
        client_id: str(),
        active: { type: 'boolean', const: true },
        app_type: { type: 'string', const: 'SinglePageApp' },
      }),
    ),
  }),
  AuditEvent: object({
    type: { type: 'string', enum: ['login.succeeded', 'login.failed', 'token.refresh_reuse', 'code.replayed', 'admin.change'] },
    at: dateTime(),
    account_sid: nullable(str()),
    connection_sid: nullable(str()),
    user_sid: nullable(str()),
    unique_id: nullable(str()),
    surface: nullable(str()),
    code: nullable({ type: 'integer' }),
    reason: nullable(str()),
  }),
  User: object({
    sid: sid('FU', 'User SID'),
    worker_sid: sid('WK', 'Worker SID'),
    account_sid: sid('AC', 'Account SID'),
    unique_id: str('SAML NameID or OIDC sub'),
    identity: str('Encoded identity'),
    full_name: str(),
    email: str(),
    roles: arrayOf(str()),
    image_url: nullable(str()),
    disabled: { type: 'boolean' },
    created_at: dateTime(),
    last_login_at: dateTime(),
  }),
  SessionsRevoked: {
    type: 'object',
    properties: { account_sid: str(), user_sid: str(), revoked_sessions: { type: 'integer' } },
    required: ['revoked_sessions'],
  },
  TokenInspection: object({
    valid: { type: 'boolean' },
    code: { type: 'integer', description: '0 when valid' },
    message: nullable(str()),
    claims: nullable({ type: 'object', description: 'Verified access-token claims (iss, sub, aud, exp, sid, account_sid, identity, roles…)' }),
    expires_at: nullable(dateTime()),
    session: nullable(
      object({
        id: str(),
        active: nullable({ type: 'boolean' }),
        surface: nullable(str()),
        auth_time: nullable(dateTime()),
        max_expires_at: nullable(dateTime()),
      }),
    ),
    user: nullable(object({ sid: str(), exists: { type: 'boolean' }, disabled: { type: 'boolean' } })),
  }),
  SigningKey: object({
    kid: str(),
    alg: { type: 'string', const: 'ES256' },
    active: { type: 'boolean', description: 'Signs new tokens' },
    created_at: dateTime(),
    retired_at: nullable(dateTime()),
  }),
  SigningKeys: object({ keys: arrayOf(ref('SigningKey')) }),
};
