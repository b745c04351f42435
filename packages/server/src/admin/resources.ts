import { describeCertificate } from '../accounts/certificates.ts';
import { revertDeadline } from '../accounts/sso-mode.ts';
import type { Account, Connection, OidcIdpSettings } from '../accounts/model.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import { signsAuthnRequests } from '../connections/saml-request-signing.ts';
import { OIDC_CALLBACK_PATH } from '../login/connection-protocols.ts';
import { enhancedServiceProvider, legacyServiceProvider } from '../login/service-providers.ts';
import type { SigningAlg } from '../tokens/signing-keys.ts';
import type { User } from '../users/user-service.ts';
import type { AdminKey } from './admin-keys.ts';
import { setupReport } from './setup-report.ts';
import type * as Wire from './responses.ts';

/**
 * The admin API's wire shapes (snake_case), one function per resource. The CLI prints the same
 * shapes with --json, so a script can move between the two without translating. Each returns
 * its responses.ts type, the schema the OpenAPI document is generated from.
 */
function iso(ms: number): string;
function iso(ms: number | null | undefined): string | null;
function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export function accountSummary(account: Account): Wire.AccountSummary {
  return {
    sid: account.sid,
    friendly_name: account.friendlyName,
    instance_sid: account.instanceSid,
    sso_mode: account.ssoMode,
    created_at: iso(account.createdAt),
  };
}

/** The whole account: settings, connections, and what is still missing for each SSO mode. */
export function accountResource(account: Account, connections: Connection[], publicUrl: string, now = Date.now()): Wire.Account {
  return {
    ...accountSummary(account),
    previous_mode: account.previousMode,
    mode_changed_at: iso(account.modeChangedAt),
    /** Until then, switching back to previous_mode needs no force. */
    mode_revert_deadline: iso(revertDeadline(account)),
    trusted_urls: account.trustedUrls,
    default_redirect_url: account.defaultRedirectUrl,
    idp_initiated_login: account.idpInitiatedLogin,
    login_popup: account.loginPopup ?? false,
    declared_roles: account.declaredRoles ?? [],
    legacy_service_provider: serviceProvider(legacyServiceProvider(publicUrl, account.sid), `${publicUrl}/v1/Accounts/${account.sid}/saml2/metadata`),
    connections: connections.map((c) => connectionResource(c, publicUrl, now)),
    setup: setupReport(account, connections, now),
  };
}

export function connectionResource(connection: Connection, publicUrl: string, now = Date.now()): Wire.Connection {
  const saml = connection.saml;
  return {
    sid: connection.sid,
    account_sid: connection.accountSid,
    client_id: connection.clientId,
    protocol: connection.protocol,
    issuer: saml?.issuer ?? connection.oidc?.issuer ?? null,
    sso_url: saml?.ssoUrl ?? null,
    sso_binding: saml ? (saml.ssoBinding ?? 'redirect') : null,
    sign_authn_requests: saml ? signsAuthnRequests(saml) : null,
    want_authn_requests_signed: saml?.wantAuthnRequestsSigned ?? null,
    metadata_url: saml?.metadataUrl ?? null,
    metadata_entity_id: saml?.metadataEntityId ?? null,
    clock_skew_seconds: saml?.clockSkewSeconds ?? null,
    certificates: (saml?.certificates ?? []).map((pem) => certificateResource(pem, now)),
    oidc: connection.oidc ? oidcProviderResource(connection.oidc, publicUrl) : null,
    redirect_uris: connection.redirectUris,
    unique_id: {
      attribute: connection.uniqueId?.attribute ?? null,
      case_insensitive_email: connection.uniqueId?.caseInsensitiveEmail ?? true,
    },
    mapping: {
      full_name: connection.mapping.full_name,
      email: connection.mapping.email,
      roles: connection.mapping.roles,
      image_url: connection.mapping.image_url,
      role_values: connection.mapping.roleValues,
    },
    service_provider: serviceProvider(enhancedServiceProvider(publicUrl, connection.sid), `${publicUrl}/login/metadata?connection=${connection.sid}`),
    created_at: iso(connection.createdAt),
  };
}

/** An OpenID Connect provider's settings as an administrator checks them: never the secret, only whether one is stored. */
export function oidcProviderResource(oidc: OidcIdpSettings, publicUrl: string): Wire.OidcProvider {
  return {
    issuer: oidc.issuer,
    upstream_client_id: oidc.clientId,
    scopes: oidc.scopes,
    client_secret_stored: oidc.sealedClientSecret !== null,
    redirect_uri: `${publicUrl}${OIDC_CALLBACK_PATH}`,
  };
}

export function certificateResource(pem: string, now = Date.now()): Wire.Certificate {
  const c = describeCertificate(pem, now);
  return {
    subject: c.subject,
    issuer: c.issuer,
    valid_from: c.validFrom,
    valid_to: c.validTo,
    fingerprint_sha256: c.fingerprint256,
    days_left: c.daysLeft,
  };
}

function serviceProvider(sp: { entityId: string; acsUrl: string }, metadataUrl: string): Wire.ServiceProvider {
  return { entity_id: sp.entityId, acs_url: sp.acsUrl, metadata_url: metadataUrl };
}

export function userResource(user: User): Wire.User {
  return {
    sid: user.sid,
    worker_sid: user.workerSid,
    account_sid: user.accountSid,
    unique_id: user.uniqueId,
    identity: user.identity,
    full_name: user.fullName,
    email: user.email,
    roles: user.roles,
    image_url: user.imageUrl,
    disabled: user.disabled,
    created_at: iso(user.createdAt),
    last_login_at: iso(user.lastLoginAt),
  };
}

export function auditEventResource(event: AuditEvent): Wire.AuditEvent {
  return {
    type: event.type,
    at: iso(event.at),
    account_sid: event.accountSid,
    connection_sid: event.connectionSid,
    user_sid: event.userSid,
    unique_id: event.uniqueId,
    surface: event.surface,
    code: event.code,
    reason: event.reason,
  };
}

export function adminKeyResource(key: AdminKey) {
  return { sid: key.sid, name: key.name, created_at: iso(key.createdAt), last_used_at: iso(key.lastUsedAt) };
}

export function signingKeyResource(key: { kid: string; alg: SigningAlg; createdAt: number; retiredAt: number | null }): Wire.SigningKey {
  return { kid: key.kid, alg: key.alg, active: key.retiredAt === null, created_at: iso(key.createdAt), retired_at: iso(key.retiredAt) };
}
