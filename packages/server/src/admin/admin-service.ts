import { discoverProvider } from '../connections/oidc-connection.ts';
import { clientSecretChange, type ClientSecretChange } from '../accounts/oidc-settings.ts';
import { readProfile, refusalOf, unstorableRefusalOf } from '../connections/profile-mapping.ts';
import { DEFAULT_UNIQUE_ID_POLICY, uniqueIdRefusal } from '../users/unique-id.ts';
import { InvalidParameterError, type LanyardError } from '../errors.ts';
import type { SamlSettingsInput } from '../accounts/saml-settings.ts';
import type { AttributeMapping, SsoMode } from '../accounts/model.ts';
import { encodeIdentity, requireSid } from '../ids.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/port.ts';
import type { LanyardConfig } from '../config.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import type { SigningKeys } from '../tokens/signing-keys.ts';
import type { UserService } from '../users/user-service.ts';
import type { AdminKeys } from './admin-keys.ts';
import { claimsAsAttributes } from '../connections/claim-paths.ts';
import { explainRoleFailure } from '../connections/group-overage.ts';
import { explainForConnection, lookedForOf } from '../connections/missing-attribute.ts';
import type { SpKeyUse } from '../connections/sp-keys.ts';
import { appConfigResource } from './app-config.ts';
import {
  accountResource,
  accountSummary,
  adminKeyResource,
  auditEventResource,
  connectionResource,
  signingKeyResource,
  userResource,
} from './resources.ts';
import type * as Wire from './responses.ts';
import type { MappingInput, OidcInput } from './requests.ts';
import { inspectToken, type TokenInspectionServices } from './token-inspection.ts';
import { recordAdminChange, type Actor } from './admin-audit.ts';

export type { Actor } from './admin-audit.ts';

/** The audit log's words for what a save did to an OIDC client secret (never the secret). */
const SECRET_WORDS: Record<ClientSecretChange, string> = {
  stored: 'stored (new)',
  kept: 'kept (unchanged)',
  removed: 'removed (now a public client)',
  none: 'none (public client)',
};

/**
 * The administrator's operations, shared by the admin API and the CLI: each one validates, acts
 * through the domain services, records the change in the audit log and returns the wire shape.
 * Both front ends stay thin, and a change made from either looks the same afterwards.
 */
export interface AdminServiceDependencies extends TokenInspectionServices {
  accounts: AccountService;
  users: UserService;
  audit: AuditLog;
  spKeys: SpKeys;
  keys: SigningKeys;
  adminKeys: AdminKeys;
  config: Pick<LanyardConfig, 'publicUrl'>;
}

export class AdminService {
  constructor(
    private readonly services: AdminServiceDependencies,
    private readonly actor: Actor,
  ) {}

  async listAccounts(): Promise<Wire.AccountList> {
    return { accounts: (await this.services.accounts.listAccounts()).map(accountSummary) };
  }

  async createAccount(friendlyName?: string): Promise<Wire.AccountCreated> {
    // Its auth token is shown once: the account and its audit record commit together, or neither.
    const { account, authToken } = await this.services.accounts.createAccount(friendlyName, (tx, made) =>
      this.record(made.sid, `created account "${made.friendlyName}"`, {}, tx),
    );
    return { ...accountResource(account, [], this.publicUrl), auth_token: authToken };
  }

  /** A new auth token for the account, shown once; the previous one stops working (AccountService.rotateAuthToken). */
  async rotateAuthToken(accountSid: string): Promise<Wire.AuthTokenRotated> {
    // Recorded in the rotation's own transaction: a failed audit write undoes the rotation.
    const authToken = await this.services.accounts.rotateAuthToken(accountSid, (tx) =>
      this.record(accountSid, 'replaced the auth token (the previous one no longer works)', {}, tx),
    );
    return { account_sid: accountSid, auth_token: authToken };
  }

  async getAccount(accountSid: string): Promise<Wire.Account> {
    const account = await this.services.accounts.getAccount(accountSid);
    return accountResource(account, await this.services.accounts.connectionsOf(account.sid), this.publicUrl);
  }

  async setSso(accountSid: string, input: SamlSettingsInput): Promise<Wire.Connection> {
    return (await this.saveSso(accountSid, input)).connection;
  }

  /**
   * `setSso`, also saying which OpenID Connect provider the SAML settings replaced (null when the
   * connection had none), and whether its client secret was dropped with it: the CLI prints it,
   * and the audit entry names it.
   */
  async saveSso(
    accountSid: string,
    input: SamlSettingsInput,
  ): Promise<{ connection: Wire.Connection; replacedOidc: { issuer: string; clientSecretRemoved: boolean } | null }> {
    const before = (await this.services.accounts.connectionsOf(accountSid))[0]?.oidc ?? null;
    const connection = await this.services.accounts.setSaml(accountSid, input);
    const replacedOidc = before && { issuer: before.issuer, clientSecretRemoved: before.sealedClientSecret !== null };
    const replaced = replacedOidc
      ? `, replacing the OpenID Connect provider ${replacedOidc.issuer}${replacedOidc.clientSecretRemoved ? ' and removing its client secret' : ''}`
      : '';
    await this.record(accountSid, `set the IdP settings of connection ${connection.sid} (issuer ${connection.saml?.issuer ?? 'none'})${replaced}`, {
      connectionSid: connection.sid,
    });
    return { connection: connectionResource(connection, this.publicUrl), replacedOidc };
  }

  /** The account's connection, created (without IdP settings) if it has none yet. */
  async ensureConnection(accountSid: string) {
    const { connection, created } = await this.services.accounts.ensureConnection(accountSid);
    if (created) await this.record(accountSid, `created connection ${connection.sid}`, { connectionSid: connection.sid });
    return { connection: connectionResource(connection, this.publicUrl), created };
  }

  async getConnection(connectionSid: string): Promise<Wire.Connection> {
    return connectionResource(await this.services.accounts.getConnection(connectionSid), this.publicUrl);
  }

  async setMapping(connectionSid: string, input: MappingInput): Promise<Wire.Connection> {
    const mapping: Partial<AttributeMapping> = {};
    if (input.full_name) mapping.full_name = input.full_name;
    if (input.email) mapping.email = input.email;
    if (input.roles) mapping.roles = input.roles;
    if (input.image_url) mapping.image_url = input.image_url;
    if (input.role_values) mapping.roleValues = input.role_values;
    const connection = await this.services.accounts.setMapping(connectionSid, mapping);
    await this.record(connection.accountSid, `set the attribute mapping of connection ${connectionSid}`, { connectionSid });
    return connectionResource(connection, this.publicUrl);
  }

  /**
   * Points the account's connection at an OpenID Connect provider. Without `client_secret`, the
   * stored secret is kept for the same issuer and client ID; `public_client: true` removes it.
   * The audit entry names the issuer, client ID, scopes and what happened to the secret.
   */
  async setOidc(accountSid: string, input: OidcInput): Promise<Wire.Connection> {
    return (await this.saveOidc(accountSid, input)).connection;
  }

  /** `setOidc`, also saying what happened to the client secret (the CLI prints it). */
  async saveOidc(accountSid: string, input: OidcInput): Promise<{ connection: Wire.Connection; clientSecret: ClientSecretChange }> {
    const before = (await this.services.accounts.connectionsOf(accountSid))[0];
    const connection = await this.services.accounts.setOidc(
      accountSid,
      { issuer: input.issuer, clientId: input.client_id, clientSecret: input.client_secret, publicClient: input.public_client, scopes: input.scopes },
      (settings) => discoverProvider(settings.issuer),
    );
    const oidc = connection.oidc!;
    const secret = clientSecretChange(before?.protocol === 'oidc' ? before.oidc : null, oidc);
    await this.record(
      accountSid,
      `pointed connection ${connection.sid} at the OpenID Connect provider ${oidc.issuer} (client ID ${oidc.clientId}, scopes "${oidc.scopes}", client secret ${SECRET_WORDS[secret]})`,
      { connectionSid: connection.sid },
    );
    return { connection: connectionResource(connection, this.publicUrl), clientSecret: secret };
  }

  /**
   * What the connection's mapping makes of these attributes, without signing anyone in. Without
   * `name_id`, an OpenID Connect connection takes the unique id from the `sub` claim; a failing
   * run lists, for every missing field, the names looked for, beside the names received.
   * @throws InvalidParameterError without `name_id` for a SAML connection, or an OIDC one without `sub`.
   */
  async dryRunMapping(connectionSid: string, input: { name_id?: string | undefined; attributes: Record<string, unknown> }) {
    const connection = await this.services.accounts.getConnection(connectionSid);
    const account = await this.services.accounts.getAccount(connection.accountSid);
    const attributes = claimsAsAttributes(input.attributes);
    const sub = typeof input.attributes.sub === 'string' ? input.attributes.sub : undefined;
    const nameId = input.name_id ?? (connection.protocol === 'oidc' ? sub : undefined);
    if (!nameId) {
      throw new InvalidParameterError(
        connection.protocol === 'oidc'
          ? 'Give the unique id: a "sub" claim among the claims, or name_id (--name-id).'
          : 'name_id (--name-id) is required for a SAML connection: the NameID the IdP would send.',
      );
    }
    const reading = readProfile(nameId, attributes, connection.mapping, account.declaredRoles);
    // As a sign-in checks, in its order: the unique id, what is missing, what cannot be stored.
    const refusal =
      uniqueIdRefusal(nameId, connection.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY) ??
      refusalOf(reading, account.declaredRoles) ??
      unstorableRefusalOf(reading);
    const received = Object.keys(attributes);
    if (refusal) {
      const explained = explainForConnection(explainRoleFailure(refusal, attributes), connection) as LanyardError;
      const missing = reading.missing.map((attribute) => ({ attribute, looked_for: lookedForOf(attribute, connection) }));
      return { ok: false, profile: null, dropped_roles: reading.droppedRoles, missing, received, error: explained.toJSON() };
    }
    return {
      ok: true,
      profile: {
        unique_id: nameId,
        identity: encodeIdentity(nameId),
        full_name: reading.fullName!,
        email: reading.email!,
        roles: reading.roles,
        image_url: reading.imageUrl ?? null,
      },
      /** Role values neither recognised nor mapped: a real sign-in drops them. */
      dropped_roles: reading.droppedRoles,
      missing: [],
      received,
      error: null,
    };
  }

  async setDeclaredRoles(accountSid: string, roles: string[]): Promise<Wire.Account> {
    const account = await this.services.accounts.setDeclaredRoles(accountSid, roles);
    await this.record(
      accountSid,
      `set the account's declared roles to ${account.declaredRoles?.length ? account.declaredRoles.join(', ') : '(none)'}`,
    );
    return this.getAccount(accountSid);
  }

  async setLoginPopup(accountSid: string, enabled: boolean): Promise<Wire.Account> {
    await this.services.accounts.setLoginPopup(accountSid, enabled);
    await this.record(accountSid, `set the desktop sign-in window to ${enabled ? 'a popup' : 'the same page'}`);
    return this.getAccount(accountSid);
  }

  /** The desktop's appConfig.js for this account, ready to copy. */
  async appConfig(accountSid: string): Promise<Wire.AppConfig> {
    const account = await this.services.accounts.getAccount(accountSid);
    return appConfigResource(account, (await this.services.accounts.connectionsOf(accountSid))[0], this.publicUrl);
  }

  async listTrustedUrls(accountSid: string): Promise<Wire.TrustedUrls> {
    return trustedUrls(await this.services.accounts.getAccount(accountSid));
  }

  async addTrustedUrl(accountSid: string, url: string): Promise<Wire.TrustedUrls> {
    const account = await this.services.accounts.addTrustedUrl(accountSid, url);
    await this.record(accountSid, `added Trusted URL ${url}`);
    return trustedUrls(account);
  }

  /** 409 when the Default redirect URL needs this Trusted URL (checked atomically by AccountService). */
  async removeTrustedUrl(accountSid: string, url: string): Promise<Wire.TrustedUrls> {
    const account = await this.services.accounts.removeTrustedUrl(accountSid, url);
    await this.record(accountSid, `removed Trusted URL ${url}`);
    return trustedUrls(account);
  }

  /**
   * The Default redirect URL must lie under a Trusted URL (SPEC "Trusted URLs"): 400 70002 otherwise,
   * checked atomically with the write by AccountService.setDefaultRedirectUrl.
   */
  async setRedirectUrl(accountSid: string, url: string | null): Promise<Wire.Account> {
    await this.services.accounts.setDefaultRedirectUrl(accountSid, url);
    await this.record(accountSid, url === null ? 'cleared the Default redirect URL' : `set the Default redirect URL to ${url}`);
    return this.getAccount(accountSid);
  }

  /** Switching back to the previous mode after the grace period needs `force` (409 otherwise). */
  async setMode(accountSid: string, mode: SsoMode, force = false): Promise<Wire.Account> {
    await this.services.accounts.setMode(accountSid, mode, { force });
    await this.record(accountSid, `set the SSO mode to ${mode}${force ? ' (forced)' : ''}`);
    return this.getAccount(accountSid);
  }

  async setIdpInitiatedLogin(accountSid: string, enabled: boolean): Promise<Wire.Account> {
    await this.services.accounts.setIdpInitiatedLogin(accountSid, enabled);
    await this.record(accountSid, `${enabled ? 'enabled' : 'disabled'} IdP-initiated login`);
    return this.getAccount(accountSid);
  }

  /** Exactly what the public lookup answers for this account. */
  async authConfig(accountSid: string): Promise<Wire.AuthConfig> {
    return { config_list: await this.services.accounts.lookupConfig(accountSid) };
  }

  async auditEvents(accountSid: string, limit = 50): Promise<Wire.AuditEventList> {
    await this.services.accounts.getAccount(accountSid);
    return { events: (await this.services.audit.recent(accountSid, limit)).map(auditEventResource) };
  }

  async listUsers(accountSid: string, search?: string): Promise<Wire.UserList> {
    await this.services.accounts.getAccount(accountSid);
    return { users: (await this.services.users.list(accountSid, search)).map(userResource) };
  }

  /** A disabled user's tokens stop validating and refreshing at once; no revocation needed. */
  async setUserDisabled(userSid: string, disabled: boolean): Promise<Wire.User> {
    requireSid('user', userSid, 'UserSid');
    const user = await this.services.users.setDisabled(userSid, disabled);
    await this.record(user.accountSid, `${disabled ? 'disabled' : 'enabled'} user ${user.uniqueId}`, { userSid });
    return userResource(user);
  }

  async revokeUserSessions(userSid: string): Promise<Wire.SessionsRevoked> {
    requireSid('user', userSid, 'UserSid');
    const revoked = await this.services.tokens.revokeAllForUser(userSid);
    const user = await this.services.users.get(userSid);
    await this.record(user.accountSid, `revoked ${revoked} session(s) of user ${user.uniqueId}`, { userSid });
    return { user_sid: userSid, revoked_sessions: revoked };
  }

  async revokeAccountSessions(accountSid: string): Promise<Wire.SessionsRevoked> {
    await this.services.accounts.getAccount(accountSid);
    const revoked = await this.services.tokens.revokeAllForAccount(accountSid);
    await this.record(accountSid, `revoked all ${revoked} session(s) of the account`);
    return { account_sid: accountSid, revoked_sessions: revoked };
  }

  async setRedirectUris(connectionSid: string, uris: string[]): Promise<Wire.Connection> {
    const connection = await this.services.accounts.setRedirectUris(connectionSid, uris);
    await this.record(connection.accountSid, `set the OIDC redirect URIs of connection ${connectionSid}`, { connectionSid });
    return connectionResource(connection, this.publicUrl);
  }

  async verifyToken(token: string, accountSid?: string) {
    if (accountSid !== undefined) requireSid('account', accountSid, 'AccountSid');
    return inspectToken(this.services, token, accountSid);
  }

  /** The connection's SAML SP keys (signing, encryption), created on first use. */
  async listSpKeys(connectionSid: string): Promise<Wire.SpKeys> {
    const connection = await this.services.accounts.getConnection(connectionSid);
    return { connection_sid: connection.sid, keys: await this.services.spKeys.summaries(connection) };
  }

  /** `rollover` publishes a second key of `use` (the new one signs); `retire` drops the older one. */
  async changeSpKeys(connectionSid: string, use: SpKeyUse, change: 'rollover' | 'retire'): Promise<Wire.SpKeys> {
    const connection = await this.services.accounts.getConnection(connectionSid);
    if (change === 'rollover') await this.services.spKeys.rollover(connection, use);
    else await this.services.spKeys.retire(connection, use);
    await this.record(
      connection.accountSid,
      `${change === 'rollover' ? 'rolled over' : 'retired the old'} SAML ${use} key of connection ${connectionSid}`,
      {
        connectionSid,
      },
    );
    return this.listSpKeys(connectionSid);
  }

  async listSigningKeys(): Promise<Wire.SigningKeys> {
    // Just after start the RS256 key may still be being created (SigningKeys.init's deferred keys).
    await this.services.keys.ready();
    // Another node (or the CLI) may have rotated since this process last looked.
    await this.services.keys.reload();
    return { keys: this.services.keys.list().map(signingKeyResource) };
  }

  /** The new key signs from now on; the old ones keep verifying until their tokens expire. */
  async rotateSigningKeys(): Promise<Wire.SigningKeyRotated> {
    const kid = await this.services.keys.rotate();
    await this.record(null, `rotated the signing keys (new key ${kid})`);
    return { kid, ...(await this.listSigningKeys()) };
  }

  async createAdminKey(name?: string) {
    // Its secret is shown once: the key and its audit record commit together, or neither.
    const { key, secret } = await this.services.adminKeys.create(name, Date.now(), (tx, made) =>
      this.record(null, `created admin key ${made.sid} "${made.name}"`, {}, tx),
    );
    return { ...adminKeyResource(key), secret };
  }

  async listAdminKeys() {
    return { admin_keys: (await this.services.adminKeys.list()).map(adminKeyResource) };
  }

  async revokeAdminKey(sid: string) {
    await this.services.adminKeys.revoke(sid);
    await this.record(null, `revoked admin key ${sid}`);
    return { sid, revoked: true };
  }

  private get publicUrl(): string {
    return this.services.config.publicUrl;
  }

  /** @param tx the transaction of the change, when the record must commit with it. */
  private record(accountSid: string | null, change: string, about: { connectionSid?: string; userSid?: string } = {}, tx?: Storage): Promise<void> {
    return recordAdminChange(tx ? this.services.audit.within(tx) : this.services.audit, this.actor, accountSid, change, about);
  }
}

function trustedUrls(account: { trustedUrls: string[]; defaultRedirectUrl: string | null }) {
  return { trusted_urls: account.trustedUrls, default_redirect_url: account.defaultRedirectUrl };
}
