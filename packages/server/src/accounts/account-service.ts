import { ConflictError, NotFoundError, UntrustedDomainError } from '../errors.ts';
import { newSid, requireSid } from '../ids.ts';
import { randomAlphanumeric, randomToken, safeEqual, sha256 } from '../crypto/random.ts';
import type { InSameTransaction, Storage } from '../storage/port.ts';
import { updateRecord } from '../storage/update-record.ts';
import { fetchIdpMetadata } from './metadata-fetch.ts';
import { refreshIdpMetadata, type MetadataRefreshResult } from './metadata-refresh.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import {
  DEFAULT_MAPPING,
  type Account,
  type OidcIdpSettings,
  type AttributeMapping,
  type Connection,
  type SamlIdpSettings,
  type SsoMode,
} from './model.ts';
import { validateRedirectUris } from './redirect-uris.ts';
import { oidcSettings, type OidcSettingsInput } from './oidc-settings.ts';
import { LookupCache, lookupEntries, type AuthConfigEntry } from './public-lookup.ts';
import { resolveSamlSettings, type MetadataFetcher, type SamlSettingsInput } from './saml-settings.ts';
import { switchSsoMode } from './sso-mode.ts';
import { TrustedOrigins } from './trusted-origins.ts';
import { isCoveredBy, parseTrustedUrl } from './trusted-urls.ts';

const ACCOUNT = 'account';
const CONNECTION = 'connection';

/**
 * Accounts, their SSO connections, Trusted URLs and redirect URL: the administrator's setup, as
 * stored. What each setting may be lives beside it (saml-settings.ts, oidc-settings.ts,
 * redirect-uris.ts, sso-mode.ts, trusted-urls.ts); the two read caches too
 * (public-lookup.ts, trusted-origins.ts), which every write here clears.
 */
export class AccountService {
  /** The public lookup's answers per account (public-lookup.ts). */
  private readonly lookups = new LookupCache();
  /** The CORS origins (trusted-origins.ts). */
  private readonly trustedOrigins = new TrustedOrigins(async () => ({
    accounts: await this.listAccounts(),
    connections: (await this.storage.list<Connection>(CONNECTION)).map((r) => r.payload),
  }));

  constructor(
    private readonly storage: Storage,
    private readonly fetchMetadata: MetadataFetcher = fetchIdpMetadata,
    /** Seals upstream client secrets; absent in tools that never set one. */
    private readonly secrets?: SecretBox,
  ) {}

  /** The same service reading and writing through a transaction. */
  within(tx: Storage): AccountService {
    return new AccountService(tx, this.fetchMetadata, this.secrets);
  }

  /** A new account and its auth token, shown once; `alongside` commits with it (InSameTransaction). */
  async createAccount(friendlyName = 'Lanyard account', alongside?: InSameTransaction<Account>): Promise<{ account: Account; authToken: string }> {
    const authToken = randomToken();
    const account: Account = {
      sid: newSid('account'),
      friendlyName: friendlyName.slice(0, 200),
      instanceSid: newSid('instance'),
      authTokenHash: sha256(authToken),
      trustedUrls: [],
      defaultRedirectUrl: null,
      idpInitiatedLogin: false,
      ssoMode: 'enhanced',
      modeChangedAt: null,
      previousMode: null,
      createdAt: Date.now(),
    };
    await this.storage.transaction(async (tx) => {
      await tx.insert({ kind: ACCOUNT, id: account.sid, accountSid: account.sid, payload: account });
      await alongside?.(tx, account);
    });
    this.lookups.clear();
    return { account, authToken };
  }

  /**
   * Replaces the account's auth token (Basic auth of `Tokens/validate`) with a new one, returned
   * once: the previous token stops working at once. `alongside` commits with it (the audit record
   * of the change): if it fails, nothing changes, and no caller is left without the new token
   * while the old one no longer works.
   *
   * @throws NotFoundError when there is no such account.
   */
  async rotateAuthToken(accountSid: string, alongside?: InSameTransaction): Promise<string> {
    const authToken = randomToken();
    await this.storage.transaction(async (tx) => {
      await this.within(tx).updateAccount(accountSid, (account) => {
        account.authTokenHash = sha256(authToken);
      });
      await alongside?.(tx, undefined);
    });
    return authToken;
  }

  async listAccounts(): Promise<Account[]> {
    return (await this.storage.list<Account>(ACCOUNT)).map((r) => r.payload);
  }

  async getAccount(accountSid: string): Promise<Account> {
    requireSid('account', accountSid, 'AccountSid');
    const record = await this.storage.find<Account>(ACCOUNT, accountSid);
    if (!record) throw new NotFoundError(`Account ${accountSid} was not found.`);
    return record.payload;
  }

  async findAccount(accountSid: string): Promise<Account | undefined> {
    return (await this.storage.find<Account>(ACCOUNT, accountSid))?.payload;
  }

  async verifyAuthToken(accountSid: string, authToken: string): Promise<boolean> {
    return (await this.authenticate(accountSid, authToken)) !== undefined;
  }

  /** The account whose auth token this is (compared in constant time), or undefined. */
  async authenticate(accountSid: string, authToken: string): Promise<Account | undefined> {
    const account = await this.findAccount(accountSid);
    return account !== undefined && safeEqual(account.authTokenHash, sha256(authToken)) ? account : undefined;
  }

  /**
   * Read-modify-write of one account inside a transaction, so concurrent edits are not lost and
   * the account's rules hold on what is written, not on an earlier snapshot: a change to the
   * Trusted URLs or the Default redirect URL must leave the Default redirect URL under a Trusted
   * URL (SPEC "Trusted URLs"; checkDefaultRedirect).
   *
   * @throws NotFoundError; UntrustedDomainError (70002) for an uncovered new Default redirect URL;
   *   ConflictError (409) when removing the Trusted URL that covers it.
   */
  async updateAccount(accountSid: string, change: (account: Account) => void): Promise<Account> {
    requireSid('account', accountSid, 'AccountSid');
    const updated = await this.storage.transaction(async (tx) => {
      const record = await tx.find<Account>(ACCOUNT, accountSid, { forUpdate: true });
      if (!record) throw new NotFoundError(`Account ${accountSid} was not found.`);
      const account = structuredClone(record.payload);
      change(account);
      checkDefaultRedirect(record.payload, account);
      await tx.upsert({ kind: ACCOUNT, id: account.sid, accountSid: account.sid, payload: account });
      return account;
    });
    // This node sees new Trusted URLs at once; other nodes within the cache's 10 seconds.
    this.trustedOrigins.clear();
    this.lookups.clear();
    return updated;
  }

  async addTrustedUrl(accountSid: string, url: string): Promise<Account> {
    const trusted = parseTrustedUrl(url);
    return this.updateAccount(accountSid, (account) => {
      if (!account.trustedUrls.includes(trusted.url)) account.trustedUrls.push(trusted.url);
    });
  }

  /**
   * Removes a Trusted URL; refused (ConflictError, 409) when the Default redirect URL needs it,
   * checked atomically by updateAccount.
   *
   * @throws NotFoundError when `url` is not one of the account's Trusted URLs.
   */
  async removeTrustedUrl(accountSid: string, url: string): Promise<Account> {
    const canonical = safeCanonical(url);
    return this.updateAccount(accountSid, (account) => {
      const before = account.trustedUrls.length;
      account.trustedUrls = account.trustedUrls.filter((u) => u !== canonical && u !== url);
      if (account.trustedUrls.length === before) throw new NotFoundError(`"${url}" is not a Trusted URL of this account.`);
    });
  }

  /**
   * Sets (or with null clears) the Default redirect URL, which must lie under one of the account's
   * Trusted URLs: UntrustedDomainError (70002) otherwise, checked atomically by updateAccount.
   *
   * @throws InvalidParameterError for a malformed URL.
   */
  async setDefaultRedirectUrl(accountSid: string, url: string | null): Promise<Account> {
    // Kept as entered (normalised): a landing page at `/desktop/` must not become `/desktop`.
    const href = url === null ? null : parseTrustedUrl(url).href;
    return this.updateAccount(accountSid, (account) => {
      account.defaultRedirectUrl = href;
    });
  }

  async setIdpInitiatedLogin(accountSid: string, enabled: boolean): Promise<Account> {
    return this.updateAccount(accountSid, (account) => {
      account.idpInitiatedLogin = enabled;
    });
  }

  /** Replaces the account's declared roles (recognised beside admin, supervisor, agent). */
  async setDeclaredRoles(accountSid: string, roles: string[]): Promise<Account> {
    return this.updateAccount(accountSid, (account) => {
      account.declaredRoles = [...new Set(roles.map((r) => r.toLowerCase()))];
    });
  }

  async setLoginPopup(accountSid: string, enabled: boolean): Promise<Account> {
    return this.updateAccount(accountSid, (account) => {
      account.loginPopup = enabled;
    });
  }

  /** Switches SSO mode; going back after the grace period takes `force` (sso-mode.ts). */
  async setMode(accountSid: string, mode: SsoMode, options: { force?: boolean; now?: number } = {}): Promise<Account> {
    const now = options.now ?? Date.now();
    return this.updateAccount(accountSid, (account) => switchSsoMode(account, mode, now, options.force));
  }

  /** Creates the account's SAML connection or updates its IdP settings (saml-settings.ts). */
  async setSaml(accountSid: string, input: SamlSettingsInput): Promise<Connection> {
    await this.getAccount(accountSid);
    const settings = await resolveSamlSettings(input, this.fetchMetadata);
    const { connection } = await this.ensureConnection(accountSid);
    // SAML settings replace an OpenID Connect provider (as set-oidc replaces SAML): the connection
    // speaks one protocol, and `connectionProtocol` picks OIDC whenever `oidc` is still set.
    return this.updateConnection(connection.sid, (current) => ({ ...current, protocol: 'saml', saml: settings, oidc: null }));
  }

  /**
   * The account's connection, created without IdP settings when it has none: its SID is part of
   * the service-provider values an administrator registers at the IdP before the IdP's own
   * values (issuer, certificate) exist.
   */
  async ensureConnection(accountSid: string): Promise<{ connection: Connection; created: boolean }> {
    requireSid('account', accountSid, 'AccountSid');
    // The account row lock keeps two concurrent calls from creating two connections.
    const result = await this.storage.transaction(async (tx) => {
      if (!(await tx.find<Account>(ACCOUNT, accountSid, { forUpdate: true }))) throw new NotFoundError(`Account ${accountSid} was not found.`);
      const within = this.within(tx);
      const existing = (await within.connectionsOf(accountSid))[0];
      if (existing) return { connection: existing, created: false };
      const connection = newConnection(accountSid, null);
      await tx.insert({ kind: CONNECTION, id: connection.sid, accountSid, lookup: `client:${connection.clientId}`, payload: connection });
      return { connection, created: true };
    });
    this.lookups.clear();
    return result;
  }

  /**
   * Points the account's connection at an OpenID Connect provider (oidc-settings.ts). The issuer
   * must answer discovery before anything is saved; the client secret is stored sealed, and kept
   * when the same issuer and client ID are saved again without one.
   * @throws InvalidParameterError (oidc-settings.ts) before discovery is tried.
   */
  async setOidc(accountSid: string, input: OidcSettingsInput, discover: (settings: OidcIdpSettings) => Promise<void>): Promise<Connection> {
    await this.getAccount(accountSid);
    const existing = (await this.connectionsOf(accountSid))[0];
    const settings = oidcSettings(input, this.secrets, existing?.protocol === 'oidc' ? (existing.oidc ?? null) : null);
    await discover(settings);
    const { connection } = await this.ensureConnection(accountSid);
    // Sealed again from the connection as it is now: the client secret kept is the one it holds now.
    return this.updateConnection(connection.sid, (current) => ({
      ...current,
      protocol: 'oidc',
      saml: null,
      oidc: keptSecretStill(settings, oidcSettings(input, this.secrets, current.protocol === 'oidc' ? (current.oidc ?? null) : null)),
    }));
  }

  /** Re-reads the IdP metadata of connections imported from a URL (metadata-refresh.ts). */
  async refreshMetadata(): Promise<MetadataRefreshResult[]> {
    const connections = (await this.storage.list<Connection>(CONNECTION)).map((r) => r.payload);
    return refreshIdpMetadata(connections, this.fetchMetadata, async (read, metadata) => {
      // Onto the connection as it is now (an administrator may have changed it during the fetch),
      // and only while it still imports from the URL that was read.
      let applied = false;
      await this.updateConnection(read.sid, (current) => {
        applied = current.saml?.metadataUrl === read.saml?.metadataUrl && current.saml?.metadataEntityId === read.saml?.metadataEntityId;
        return applied ? { ...current, saml: { ...current.saml!, ...metadata } } : current;
      });
      return applied;
    });
  }

  async setMapping(connectionSid: string, mapping: Partial<AttributeMapping>): Promise<Connection> {
    return this.updateConnection(connectionSid, (current) => ({ ...current, mapping: { ...current.mapping, ...mapping } }));
  }

  /**
   * Replaces the redirect URIs of the connection's built-in client, checked by the same validator
   * as a registered client's (redirect-uris.ts). The built-in client is public (PKCE, no secret),
   * so private-use schemes are allowed (RFC 8252 §7.1).
   *
   * @throws InvalidParameterError naming the first URI that fails; NotFoundError for an unknown connection.
   */
  async setRedirectUris(connectionSid: string, uris: string[]): Promise<Connection> {
    const redirectUris = validateRedirectUris(uris, { allowPrivateUse: true });
    return this.updateConnection(connectionSid, (current) => ({ ...current, redirectUris }));
  }

  /**
   * `change` applied to the connection as stored now, and again on a fresh read when another
   * request wrote it first (updateRecord): a redirect URI removed by one administrator is not
   * brought back by another's mapping change, nor by a metadata refresh that was fetching then.
   * @throws NotFoundError for an unknown connection; what `change` throws.
   */
  async updateConnection(connectionSid: string, change: (connection: Connection) => Connection): Promise<Connection> {
    requireSid('connection', connectionSid, 'connection');
    const written = await updateRecord<Connection>(
      this.storage,
      { kind: CONNECTION, id: connectionSid, what: `Connection ${connectionSid}` },
      (current) => {
        const next = change(current.payload);
        return next === current.payload ? current : { ...current, payload: next };
      },
    );
    this.trustedOrigins.clear();
    this.lookups.clear();
    if (!written) throw new NotFoundError(`Connection ${connectionSid} was not found.`);
    return written.payload;
  }

  async getConnection(connectionSid: string, parameter = 'connection'): Promise<Connection> {
    requireSid('connection', connectionSid, parameter);
    const record = await this.storage.find<Connection>(CONNECTION, connectionSid);
    if (!record) throw new NotFoundError(`Connection ${connectionSid} was not found.`);
    return record.payload;
  }

  async findConnectionByClientId(clientId: string): Promise<Connection | undefined> {
    return (await this.storage.findByLookup<Connection>(CONNECTION, `client:${clientId}`))?.payload;
  }

  async connectionsOf(accountSid: string): Promise<Connection[]> {
    return (await this.storage.list<Connection>(CONNECTION, { accountSid })).map((r) => r.payload);
  }

  /** The public lookup (public-lookup.ts): empty for unknown accounts and legacy-mode ones alike. */
  async lookupConfig(accountSid: string): Promise<AuthConfigEntry[]> {
    requireSid('account', accountSid, 'AccountSid');
    return this.lookups.get(accountSid, async () => {
      const account = await this.findAccount(accountSid);
      return lookupEntries(account, account && account.ssoMode !== 'legacy' ? await this.connectionsOf(accountSid) : []);
    });
  }

  /**
   * The public lookup's answer for an account when this process holds a fresh one
   * (`lookupConfig` within the last 5 s), else `undefined`: never reads storage, never throws.
   */
  cachedLookupConfig(accountSid: string): AuthConfigEntry[] | undefined {
    return this.lookups.peek(accountSid);
  }

  /** Origins of Trusted URLs and registered redirect URIs: the pages allowed to call us cross-origin. */
  async isTrustedOrigin(origin: string): Promise<boolean> {
    return this.trustedOrigins.has(origin);
  }
}

/**
 * `now`, the OIDC settings made again from the connection as it is after discovery, unless the
 * client secret kept from it before discovery (no `client_secret` sent) is no longer there: the
 * connection changed meanwhile, and saving would make the client public without being asked.
 * @throws ConflictError (409) saying to send the client secret again.
 */
function keptSecretStill(before: OidcIdpSettings, now: OidcIdpSettings): OidcIdpSettings {
  if (before.sealedClientSecret !== null && now.sealedClientSecret === null) {
    throw new ConflictError(
      'The connection changed while its OpenID Connect settings were checked, and the stored client secret they kept is no longer there; send client_secret again (or public_client: true for a public client).',
    );
  }
  return now;
}

function newConnection(accountSid: string, saml: SamlIdpSettings | null): Connection {
  return {
    sid: newSid('connection'),
    accountSid,
    clientId: randomAlphanumeric(32),
    protocol: 'saml',
    saml,
    mapping: DEFAULT_MAPPING,
    redirectUris: [],
    createdAt: Date.now(),
  };
}

/**
 * SPEC "Trusted URLs": the Default redirect URL lies under a Trusted URL. Checked on the account
 * as it is about to be written, whenever a write changes either; a write that touches neither
 * (mode, roles…), or that does not itself uncover it, is not blocked by an older record that
 * already breaks the rule (the use sites refuse such a URL: app-tiles.ts, legacy-login-service.ts).
 */
function checkDefaultRedirect(before: Account, after: Account): void {
  const target = after.defaultRedirectUrl;
  if (target === null) return;
  const defaultChanged = target !== before.defaultRedirectUrl;
  const trustedChanged = after.trustedUrls.length !== before.trustedUrls.length || after.trustedUrls.some((u, i) => u !== before.trustedUrls[i]);
  if ((!defaultChanged && !trustedChanged) || isCoveredBy(target, after.trustedUrls)) return;
  // Same default, other Trusted URLs: refused only when this write is what uncovers it.
  if (!defaultChanged && !isCoveredBy(target, before.trustedUrls)) return;
  if (defaultChanged) {
    throw new UntrustedDomainError(
      `The Default redirect URL must be under one of the account's Trusted URLs; add one that covers it first (lanyard trusted-urls add ${after.sid} ${originOf(target)}).`,
    );
  }
  throw new ConflictError(
    `The Default redirect URL ${target} needs this Trusted URL: set another Default redirect URL (lanyard redirect-url set) or clear it (lanyard redirect-url clear) first.`,
  );
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function safeCanonical(url: string): string {
  try {
    return parseTrustedUrl(url).url;
  } catch {
    return url;
  }
}
