import { z } from 'zod';
import { componentSchemas, jsonSchema, ref, type Json } from './openapi-schemas.ts';
import { clientPaths } from './openapi-clients.ts';
import { schemas } from './requests.ts';
import { AccountList, AuditEventList, SigningKeyRotated, UserList, sid } from './responses.ts';

function requestBody(schema: z.ZodType): Json {
  const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return { required: true, content: { 'application/json': { schema: jsonSchema } } };
}

/** A success answer (its shape generated from a responses.ts schema) with the usual errors. */
const ok = (schema: z.ZodType | Json, description = 'OK', status = '200') => ({
  [status]: { description, content: { 'application/json': { schema: schema instanceof z.ZodType ? jsonSchema(schema) : schema } } },
  400: { $ref: '#/components/responses/BadRequest' },
  401: { $ref: '#/components/responses/Unauthorized' },
  404: { $ref: '#/components/responses/NotFound' },
});

const pathSid = (name: string, prefix: string, what: string) => ({ name, in: 'path', required: true, schema: jsonSchema(sid(prefix, what)) });
const accountParam = pathSid('sid', 'AC', 'Account SID');
const userParam = pathSid('sid', 'FU', 'User SID');
const connectionParam = pathSid('sid', 'JQ', 'Connection (SSO profile) SID');
const useParam = { name: 'use', in: 'path', required: true, schema: jsonSchema(schemas.spKeyUse) };

function op(operationId: string, summary: string, responses: Json, extra: Json = {}): Json {
  return { operationId, summary, responses, ...extra };
}

/** Tags follow the first path segment after the prefix: accounts, users, connections, tokens, signing-keys. */
function tagged(all: Record<string, Record<string, Json>>): Record<string, Record<string, Json>> {
  return Object.fromEntries(
    Object.entries(all).map(([path, operations]) => {
      const tag = path.split('/')[3]!.replace('openapi.json', 'meta');
      return [path, Object.fromEntries(Object.entries(operations).map(([method, o]) => [method, { tags: [tag], ...o }]))];
    }),
  );
}

const paths: Record<string, Record<string, Json>> = {
  '/admin/v1/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      summary: 'This document (no authentication)',
      security: [],
      responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
  '/admin/v1/accounts': {
    get: op('listAccounts', 'List accounts', ok(AccountList)),
    post: op('createAccount', 'Create an account (its auth token is shown once)', ok(ref('AccountCreated'), 'Created', '201'), {
      requestBody: requestBody(schemas.createAccount),
    }),
  },
  '/admin/v1/accounts/{sid}': {
    get: op('getAccount', 'Get an account with its connections and what is missing for enhanced and legacy SSO', ok(ref('Account')), {
      parameters: [accountParam],
    }),
  },
  '/admin/v1/accounts/{sid}/auth-token': {
    post: op(
      'rotateAuthToken',
      "Replace the account's auth token (Basic auth of Tokens/validate): the new one is shown once, the previous one stops working at once",
      ok(ref('AuthTokenRotated')),
      { parameters: [accountParam] },
    ),
  },
  '/admin/v1/accounts/{sid}/connections': {
    post: op(
      'ensureConnection',
      "Create the account's SSO connection without IdP settings (its SID is in the SP values to register at the IdP); returns the existing one if any",
      {
        ...ok(ref('Connection'), 'The existing connection'),
        201: { description: 'Created', content: { 'application/json': { schema: ref('Connection') } } },
      },
      { parameters: [accountParam] },
    ),
  },
  '/admin/v1/accounts/{sid}/sso': {
    put: op('setSso', 'Set the SAML IdP: exactly one of {issuer, sso_url, certificate(s)}, metadata_xml or metadata_url', ok(ref('Connection')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.sso),
    }),
  },
  '/admin/v1/accounts/{sid}/sso/entities': {
    post: op(
      'listMetadataEntities',
      'The identity-provider entity IDs in SAML (federation) metadata, to choose entity_id from',
      ok(ref('MetadataEntities')),
      {
        parameters: [accountParam],
        requestBody: requestBody(schemas.metadataEntities),
      },
    ),
  },
  '/admin/v1/accounts/{sid}/trusted-urls': {
    get: op('listTrustedUrls', 'List Trusted URLs', ok(ref('TrustedUrls')), { parameters: [accountParam] }),
    post: op('addTrustedUrl', 'Add a Trusted URL (https, or http on loopback; no query, fragment, userinfo or wildcard)', ok(ref('TrustedUrls')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.url),
    }),
    delete: op('removeTrustedUrl', 'Remove a Trusted URL', ok(ref('TrustedUrls')), {
      parameters: [accountParam, { name: 'url', in: 'query', required: true, schema: jsonSchema(z.string()) }],
    }),
  },
  '/admin/v1/accounts/{sid}/redirect-url': {
    put: op('setRedirectUrl', 'Set the Default (Domain) redirect URL; null clears it', ok(ref('Account')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.redirectUrl),
    }),
  },
  '/admin/v1/accounts/{sid}/mode': {
    put: op(
      'setMode',
      'Set the SSO mode; switching back to the previous mode after the 30-day grace period needs force',
      {
        ...ok(ref('Account')),
        409: {
          description: 'The grace period to switch back has ended; repeat with force',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
      { parameters: [accountParam], requestBody: requestBody(schemas.mode) },
    ),
  },
  '/admin/v1/accounts/{sid}/idp-initiated': {
    put: op('setIdpInitiated', 'Turn IdP-initiated login on or off (off by default: login CSRF risk)', ok(ref('Account')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.idpInitiated),
    }),
  },
  '/admin/v1/accounts/{sid}/roles': {
    put: op(
      'setDeclaredRoles',
      "Declare the account's own roles (e.g. Flex Insights wfo.*), recognised beside admin, supervisor and agent; other role values are dropped at sign-in",
      ok(ref('Account')),
      { parameters: [accountParam], requestBody: requestBody(schemas.declaredRoles) },
    ),
  },
  '/admin/v1/accounts/{sid}/login-popup': {
    put: op('setLoginPopup', 'Make desktops sign in in a popup window (appConfig sso.loginPopup) or in the same page', ok(ref('Account')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.loginPopup),
    }),
  },
  '/admin/v1/accounts/{sid}/app-config': {
    get: op(
      'getAppConfig',
      "The desktop's appConfig.js for this account (enhanced and/or legacy, per mode) and the lookup URL",
      ok(ref('AppConfig')),
      {
        parameters: [accountParam],
      },
    ),
  },
  '/admin/v1/accounts/{sid}/auth-config': {
    get: op('getAuthConfig', 'Get the auth config exactly as the public lookup answers it', ok(ref('AuthConfig')), { parameters: [accountParam] }),
  },
  '/admin/v1/accounts/{sid}/audit': {
    get: op('listAuditEvents', 'List recent audit events, newest first (sign-ins, failures, admin changes)', ok(AuditEventList), {
      parameters: [accountParam, { name: 'limit', in: 'query', required: false, schema: jsonSchema(schemas.auditQuery.shape.limit, 'input') }],
    }),
  },
  '/admin/v1/accounts/{sid}/users': {
    get: op('listUsers', "List the account's users, optionally filtered", ok(UserList), {
      parameters: [
        accountParam,
        { name: 'search', in: 'query', required: false, schema: jsonSchema(z.string().describe('Matches unique id, name, email or SID')) },
      ],
    }),
  },
  '/admin/v1/accounts/{sid}/revoke-sessions': {
    post: op('revokeAccountSessions', 'Revoke every session of the account (everyone signs in again)', ok(ref('SessionsRevoked')), {
      parameters: [accountParam],
    }),
  },
  '/admin/v1/users/{sid}/disable': {
    post: op('disableUser', 'Disable a user (their tokens stop validating and refreshing at once)', ok(ref('User')), { parameters: [userParam] }),
  },
  '/admin/v1/users/{sid}/enable': { post: op('enableUser', 'Enable a user', ok(ref('User')), { parameters: [userParam] }) },
  '/admin/v1/users/{sid}/revoke-sessions': {
    post: op('revokeUserSessions', 'Revoke every session of a user', ok(ref('SessionsRevoked')), { parameters: [userParam] }),
  },
  '/admin/v1/connections/{sid}/redirect-uris': {
    put: op('setRedirectUris', 'Set the redirect URIs of the standard OIDC surface (matched exactly)', ok(ref('Connection')), {
      parameters: [connectionParam],
      requestBody: requestBody(schemas.redirectUris),
    }),
  },
  '/admin/v1/connections/{sid}/mapping': {
    put: op(
      'setMapping',
      'Set the attribute mapping (attribute names per profile field, IdP role values to roles); omitted fields are kept',
      ok(ref('Connection')),
      {
        parameters: [connectionParam],
        requestBody: requestBody(schemas.mapping),
      },
    ),
  },
  '/admin/v1/connections/{sid}/mapping/dry-run': {
    post: op(
      'dryRunMapping',
      'Show the profile (or the 45050 error) the mapping makes of the given attributes or claims, without a sign-in',
      ok({ type: 'object' }),
      {
        parameters: [connectionParam],
        requestBody: requestBody(schemas.mappingDryRun),
      },
    ),
  },
  '/admin/v1/accounts/{sid}/oidc': {
    put: op('setOidc', "Point the account's connection at an OpenID Connect provider (checked by discovery first)", ok(ref('Connection')), {
      parameters: [accountParam],
      requestBody: requestBody(schemas.oidc),
    }),
  },
  '/admin/v1/tokens/verify': {
    post: op(
      'verifyToken',
      'Verify a token: full validation plus the claims, session and user state behind the verdict',
      ok(ref('TokenInspection')),
      { requestBody: requestBody(schemas.verifyToken) },
    ),
  },
  '/admin/v1/connections/{sid}/unique-id': {
    put: op(
      'setUniqueIdPolicy',
      'Which IdP value identifies a user: the NameID / sub (transient refused) or a named attribute; e-mail case',
      ok(ref('Connection')),
      {
        parameters: [connectionParam],
        requestBody: requestBody(schemas.uniqueIdPolicy),
      },
    ),
  },
  '/admin/v1/users/{sid}/unique-id': {
    put: op(
      'relinkUser',
      'Point a user at the unique id the IdP now sends (their next sign-in lands on them)',
      {
        ...ok(ref('User')),
        409: {
          description:
            'Another user has this unique id (or, where sign-ins ignore e-mail letter case, has it in another case), or took it at the same moment; the message names them',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
      { parameters: [userParam], requestBody: requestBody(schemas.relinkUser) },
    ),
  },
  '/admin/v1/users/{sid}/merge': {
    post: op(
      'mergeUsers',
      'Merge a duplicate user into another: its record is removed, then its sessions end (a refused merge ends none)',
      ok(ref('MergedUser')),
      {
        parameters: [userParam],
        requestBody: requestBody(schemas.mergeUsers),
      },
    ),
  },
  '/admin/v1/connections/{sid}/sp-keys': {
    get: op(
      'listSpKeys',
      "The connection's SAML SP keys: signing (AuthnRequests) and encryption (assertions), both of a rollover",
      ok(ref('SpKeys')),
      {
        parameters: [connectionParam],
      },
    ),
  },
  '/admin/v1/connections/{sid}/sp-keys/{use}/rollover': {
    post: op('rolloverSpKey', 'Add a new SP key of this use; both are published (and both decrypt) until the old one is retired', ok(ref('SpKeys')), {
      parameters: [connectionParam, useParam],
    }),
  },
  '/admin/v1/connections/{sid}/sp-keys/{use}/retire': {
    post: op('retireSpKey', 'Remove the older SP key of this use, once the IdP has the new certificate', ok(ref('SpKeys')), {
      parameters: [connectionParam, useParam],
    }),
  },
  '/admin/v1/signing-keys': {
    get: op('listSigningKeys', 'List signing keys (the active one signs; retired ones verify until their tokens expire)', ok(ref('SigningKeys'))),
  },
  '/admin/v1/signing-keys/rotate': {
    post: op('rotateSigningKeys', 'Rotate the signing key', ok(SigningKeyRotated)),
  },
  ...clientPaths,
};

/**
 * The admin API described as OpenAPI 3.1, generated from zod schemas: request bodies from the
 * ones the server parses with (requests.ts, client-admin.ts), responses from the ones its mappers
 * return (responses.ts), so neither can drift. A test checks
 * that every registered `/admin/v1` route is described and keeps docs/openapi.json current.
 */
export function adminOpenApiDocument(serverUrl = 'http://127.0.0.1:4000') {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lanyard admin API',
      version: '1.0.0',
      description:
        'Administration of a Lanyard server: accounts, SSO connections, Trusted URLs, users, sessions, tokens and signing keys. ' +
        "Every request needs an admin API key (`lanyard admin-key create`) as a Bearer token, or the console's session cookie with its X-CSRF-Token. " +
        'Errors are JSON `{code, message, status, more_info?}`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: serverUrl }],
    security: [{ adminKey: [] }, { consoleSession: [] }],
    tags: [
      { name: 'accounts', description: 'Account setup, users and audit' },
      { name: 'users', description: 'Users and their sessions' },
      { name: 'connections', description: 'SSO connections' },
      { name: 'clients', description: 'OpenID Connect clients (registration, secrets)' },
      { name: 'tokens', description: 'Token inspection' },
      { name: 'signing-keys', description: 'Token signing keys' },
      { name: 'meta', description: 'This description' },
    ],
    paths: tagged(paths),
    components: {
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', bearerFormat: 'lk_<SK SID>_<secret>', description: 'An admin API key, shown once when created.' },
        consoleSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'lanyard_console',
          description: 'The admin console session (POST /console/session); every call also needs the session CSRF token in X-CSRF-Token.',
        },
      },
      schemas: componentSchemas,
      responses: {
        BadRequest: {
          description: 'Malformed SID, body or URL; the message names the rule broken',
          content: { 'application/json': { schema: ref('Error') } },
        },
        Unauthorized: { description: 'Missing or invalid admin API key', content: { 'application/json': { schema: ref('Error') } } },
        NotFound: { description: 'No such account, user, connection or key', content: { 'application/json': { schema: ref('Error') } } },
      },
    },
  };
}
