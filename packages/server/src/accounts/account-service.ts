import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import { newSid, requireSid } from '../ids.ts';
import { randomToken, safeEqual, sha256 } from '../crypto/random.ts';
import type { Storage } from '../storage/port.ts';
import { normalizeCertificate } from './certificates.ts';
import { parseIdpMetadata } from './idp-metadata.ts';
import { fetchIdpMetadata } from './metadata-fetch.ts';
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
import { parseTrustedUrl } from './trusted-urls.ts';

const ACCOUNT = 'account';
const CONNECTION = 'connection';
/** Days an account may switch back to its previous SSO mode. */
export const MODE_SWITCH_GRACE_DAYS = 30;

export interface SamlSettingsInput {
  issuer?: string;
  ssoUrl?: string;
  certificate?: string;
  certificates?: string[];
  metadataXml?: string;
  metadataUrl?: string;
  /** Federation metadata: the entity ID of the IdP to use. */
  entityId?: string;
  /** Hand-set SSO URL: its binding (default redirect). Metadata imports read it from the metadata. */
  ssoBinding?: 'redirect' | 'post';
  /** Sign AuthnRequests; absent: as the IdP's metadata asks (WantAuthnRequestsSigned). */
  signAuthnRequests?: boolean;
  allowRsa15KeyTransport?: boolean;
  clockSkewSeconds?: number;
}

export interface OidcSettingsInput {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scopes?: string;
}

export interface AuthConfigEntry {
  account_sid: string;
  instance_sid: string;
  connection_name: string;
  client_id: string;
  active: boolean;
  app_type: 'SinglePageApp';
}

const LOOKUP_CACHE_MS = 5_000;
const LOOKUP_CACHE_ENTRIES = 10_000;

/** Accounts, their SSO connections, Trusted URLs and redirect URL: the administrator's setup. */
export class AccountService {
  constructor(
    private readonly storage: Storage,
    private readonly fetchMetadata: (url: string) => Promise<string> = fetchIdpMetadata,
    /** Seals upstream client secrets; absent in tools that never set one. */
    private readonly secrets?: SecretBox,
  ) {}

  /** The same service reading and writing through a transaction. */
  within(tx: Storage): AccountService {
    return new AccountService(tx, this.fetchMetadata, this.secrets);
  }

  async createAccount(friendlyName = 'Lanyard account'): Promise<{ account: Account; authToken: string }> {
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
    await this.storage.insert({ kind: ACCOUNT, id: account.sid, accountSid: account.sid, payload: account });
    this.lookups.clear();
    return { account, authToken };
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
    const account = await this.findAccount(accountSid);
    return account !== undefined && safeEqual(account.authTokenHash, sha256(authToken));
  }

  /** Read-modify-write of one account inside a transaction, so concurrent edits are not lost. */
  async updateAccount(accountSid: string, change: (account: Account) => void): Promise<Account> {
    requireSid('account', accountSid, 'AccountSid');
    const updated = await this.storage.transaction(async (tx) => {
      const record = await tx.find<Account>(ACCOUNT, accountSid, { forUpdate: true });
      if (!record) throw new NotFoundError(`Account ${accountSid} was not found.`);
      const account = structuredClone(record.payload);
      change(account);
      await tx.upsert({ kind: ACCOUNT, id: account.sid, accountSid: account.sid, payload: account });
      return account;
    });
    // This node sees new Trusted URLs at once; other nodes within the cache's 10 seconds.
    this.trustedOriginCache = undefined;
    this.lookups.clear();
    return updated;
  }

  async addTrustedUrl(accountSid: string, url: string): Promise<Account> {
    const trusted = parseTrustedUrl(url);
    return this.updateAccount(accountSid, (account) => {
      if (!account.trustedUrls.includes(trusted.url)) account.trustedUrls.push(trusted.url);
    });
  }

  async removeTrustedUrl(accountSid: string, url: string): Promise<Account> {
    const canonical = safeCanonical(url);
    return this.updateAccount(accountSid, (account) => {
      const before = account.trustedUrls.length;
      account.trustedUrls = account.trustedUrls.filter((u) => u !== canonical && u !== url);
      if (account.trustedUrls.length === before) throw new NotFoundError(`"${url}" is not a Trusted URL of this account.`);
    });
  }

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

  /**
   * Switches SSO mode. Users, user SIDs and worker SIDs belong to the account, not the mode, so
   * nothing is lost either way. Going back to the previous mode is a plain switch within the
   * grace period; after it, the IdP side may have been torn down, so it takes `force`.
   */
  async setMode(accountSid: string, mode: SsoMode, options: { force?: boolean; now?: number } = {}): Promise<Account> {
    const now = options.now ?? Date.now();
    return this.updateAccount(accountSid, (account) => {
      if (account.ssoMode === mode) return;
      const deadline = revertDeadline(account);
      if (mode === account.previousMode && deadline !== null && now > deadline && !options.force) {
        throw new ConflictError(
          `The ${MODE_SWITCH_GRACE_DAYS}-day grace period to switch back to ${mode} SSO ended on ${new Date(deadline).toISOString().slice(0, 10)}. ` +
            'Check that the IdP still trusts the legacy service provider, then switch with force.',
        );
      }
      account.previousMode = account.ssoMode;
      account.modeChangedAt = now;
      account.ssoMode = mode;
    });
  }

  /** Creates the account's SAML connection or updates its IdP settings. */
  async setSaml(accountSid: string, input: SamlSettingsInput): Promise<Connection> {
    await this.getAccount(accountSid);
    const settings = await this.resolveSamlSettings(input);
    const existing = (await this.connectionsOf(accountSid))[0];
    const connection: Connection = existing ? { ...existing, saml: settings } : newConnection(accountSid, settings);
    await this.saveConnection(connection);
    return connection;
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
      await within.saveConnection(connection);
      return { connection, created: true };
    });
    this.lookups.clear();
    return result;
  }

  /**
   * Points the account's connection at an OpenID Connect provider. The issuer must answer
   * discovery before anything is saved; the client secret is stored sealed.
   */
  async setOidc(accountSid: string, input: OidcSettingsInput, discover: (settings: OidcIdpSettings) => Promise<void>): Promise<Connection> {
    await this.getAccount(accountSid);
    let issuer: URL;
    try {
      issuer = new URL(input.issuer);
    } catch {
      throw new InvalidParameterError(`issuer must be an absolute URL (got "${String(input.issuer).slice(0, 200)}").`);
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
    if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback))
      throw new InvalidParameterError('issuer must use https (http only for a provider on this machine).');
    if (!input.clientId) throw new InvalidParameterError('clientId (the client registered at the OpenID Connect provider) is required.');
    if (input.clientSecret && !this.secrets) throw new InvalidParameterError('client secrets cannot be stored by this tool.');
    const settings: OidcIdpSettings = {
      issuer: input.issuer.replace(/\/+$/, ''),
      clientId: input.clientId,
      sealedClientSecret: input.clientSecret ? this.secrets!.seal(input.clientSecret) : null,
      scopes: input.scopes ?? 'openid profile email',
    };
    await discover(settings);
    const existing = (await this.connectionsOf(accountSid))[0];
    const connection: Connection = { ...(existing ?? newConnection(accountSid, null)), protocol: 'oidc', saml: null, oidc: settings };
    await this.saveConnection(connection);
    return connection;
  }

  /**
   * Re-reads IdP metadata for every connection imported from a metadata URL, so certificate
   * rollovers published by the IdP are picked up. Failures keep the last good settings.
   */
  async refreshMetadata(): Promise<Array<{ connectionSid: string; changed: boolean; error: string | null }>> {
    const results: Array<{ connectionSid: string; changed: boolean; error: string | null }> = [];
    for (const { payload: connection } of await this.storage.list<Connection>(CONNECTION)) {
      const saml = connection.saml;
      if (!saml?.metadataUrl) continue;
      try {
        // Saved before https was required: refused until an administrator sets an https URL.
        assertHttpUrl(saml.metadataUrl, 'metadataUrl');
        const meta = parseIdpMetadata(await this.fetchMetadata(saml.metadataUrl), { entityId: saml.metadataEntityId });
        assertHttpUrl(meta.ssoUrl, 'the SSO URL in the IdP metadata');
        const changed =
          meta.issuer !== saml.issuer ||
          meta.ssoUrl !== saml.ssoUrl ||
          meta.ssoBinding !== (saml.ssoBinding ?? 'redirect') ||
          meta.wantAuthnRequestsSigned !== (saml.wantAuthnRequestsSigned ?? false) ||
          meta.certificates.join() !== saml.certificates.join();
        if (changed) await this.saveConnection({ ...connection, saml: { ...saml, ...meta } });
        results.push({ connectionSid: connection.sid, changed, error: null });
      } catch (error) {
        results.push({ connectionSid: connection.sid, changed: false, error: (error as Error).message });
      }
    }
    return results;
  }

  async setMapping(connectionSid: string, mapping: Partial<AttributeMapping>): Promise<Connection> {
    const connection = await this.getConnection(connectionSid);
    const next = { ...connection, mapping: { ...connection.mapping, ...mapping } };
    await this.saveConnection(next);
    return next;
  }

  async setRedirectUris(connectionSid: string, uris: string[]): Promise<Connection> {
    const connection = await this.getConnection(connectionSid);
    for (const uri of uris) {
      let parsed: URL;
      try {
        parsed = new URL(uri);
      } catch {
        throw new InvalidParameterError(`Redirect URI "${uri}" is not an absolute URL.`);
      }
      if (parsed.hash) throw new InvalidParameterError(`Redirect URI "${uri}" must not contain a fragment (RFC 6749 §3.1.2).`);
      const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
      if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
        throw new InvalidParameterError(`Redirect URI "${uri}" must use https (http only for loopback).`);
      }
    }
    const next = { ...connection, redirectUris: [...new Set(uris)] };
    await this.saveConnection(next);
    return next;
  }

  async saveConnection(connection: Connection): Promise<void> {
    this.trustedOriginCache = undefined;
    await this.storage.upsert({
      kind: CONNECTION,
      id: connection.sid,
      accountSid: connection.accountSid,
      lookup: `client:${connection.clientId}`,
      payload: connection,
    });
    this.lookups.clear();
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

  /**
   * The public lookup. Unknown accounts and accounts without enhanced SSO both get an empty
   * list: the endpoint is unauthenticated, so it must not reveal which account SIDs exist.
   */
  /**
   * The public lookup's answers, kept LOOKUP_CACHE_MS per account in this process: desktops call
   * it on every page load and its HTTP answer is cacheable for 60 s anyway. Writes through this
   * service clear it at once; another node's write shows here within LOOKUP_CACHE_MS.
   */
  private readonly lookups = new Map<string, { entries: AuthConfigEntry[]; until: number }>();

  async lookupConfig(accountSid: string): Promise<AuthConfigEntry[]> {
    requireSid('account', accountSid, 'AccountSid');
    const now = Date.now();
    const cached = this.lookups.get(accountSid);
    if (cached && cached.until > now) return cached.entries;
    const entries = await this.readLookupConfig(accountSid);
    // Unknown SIDs are remembered too (a flood of them costs no reads), within a bound.
    if (this.lookups.size >= LOOKUP_CACHE_ENTRIES) this.lookups.delete(this.lookups.keys().next().value!);
    this.lookups.set(accountSid, { entries, until: now + LOOKUP_CACHE_MS });
    return entries;
  }

  private async readLookupConfig(accountSid: string): Promise<AuthConfigEntry[]> {
    const account = await this.findAccount(accountSid);
    if (!account || account.ssoMode === 'legacy') return [];
    const connections = await this.connectionsOf(accountSid);
    return connections
      .filter((c) => c.saml !== null || Boolean(c.oidc))
      .map((c) => ({
        account_sid: account.sid,
        instance_sid: account.instanceSid,
        connection_name: c.sid,
        client_id: c.clientId,
        active: true,
        app_type: 'SinglePageApp' as const,
      }));
  }

  private async resolveSamlSettings(input: SamlSettingsInput): Promise<SamlIdpSettings> {
    const skew = input.clockSkewSeconds ?? 120;
    if (!Number.isInteger(skew) || skew < 0 || skew > 600) throw new InvalidParameterError('clockSkewSeconds must be a whole number from 0 to 600.');
    if (input.metadataXml || input.metadataUrl) {
      if (input.metadataUrl !== undefined) assertHttpUrl(input.metadataUrl, 'metadataUrl');
      const xml = input.metadataXml ?? (await this.fetchMetadata(input.metadataUrl!));
      const meta = parseIdpMetadata(xml, { entityId: input.entityId });
      assertHttpUrl(meta.ssoUrl, 'the SSO URL in the IdP metadata');
      return {
        ...meta,
        metadataUrl: input.metadataUrl ?? null,
        metadataEntityId: input.entityId ?? null,
        clockSkewSeconds: skew,
        ...(input.signAuthnRequests !== undefined ? { signAuthnRequests: input.signAuthnRequests } : {}),
        ...(input.allowRsa15KeyTransport ? { allowRsa15KeyTransport: true } : {}),
      };
    }
    const certificates = [...(input.certificates ?? []), ...(input.certificate ? [input.certificate] : [])];
    if (!input.issuer) throw new InvalidParameterError('issuer (the IdP entity ID) is required, or import metadata instead.');
    if (!input.ssoUrl) throw new InvalidParameterError('ssoUrl (the IdP single sign-on URL) is required, or import metadata instead.');
    assertHttpUrl(input.ssoUrl, 'ssoUrl');
    if (certificates.length === 0)
      throw new InvalidParameterError('certificate (the IdP signing certificate, PEM) is required, or import metadata instead.');
    return {
      issuer: input.issuer,
      ssoUrl: input.ssoUrl,
      certificates: certificates.map(normalizeCertificate),
      ssoBinding: input.ssoBinding ?? 'redirect',
      metadataUrl: null,
      clockSkewSeconds: skew,
      ...(input.signAuthnRequests !== undefined ? { signAuthnRequests: input.signAuthnRequests } : {}),
      ...(input.allowRsa15KeyTransport ? { allowRsa15KeyTransport: true } : {}),
    };
  }

  private trustedOriginCache: { origins: Set<string>; at: number } | undefined;

  /** Origins of Trusted URLs and registered redirect URIs: the pages allowed to call us cross-origin. */
  async isTrustedOrigin(origin: string): Promise<boolean> {
    if (!this.trustedOriginCache || Date.now() - this.trustedOriginCache.at > 10_000) {
      const origins = new Set((await this.listAccounts()).flatMap((a) => a.trustedUrls.map((u) => parseTrustedUrl(u).origin)));
      // Standard OIDC clients call from the origins of their registered redirect URIs.
      for (const { payload } of await this.storage.list<Connection>(CONNECTION)) {
        for (const uri of payload.redirectUris) origins.add(new URL(uri).origin);
      }
      this.trustedOriginCache = { origins, at: Date.now() };
    }
    return this.trustedOriginCache.origins.has(origin);
  }
}

function newConnection(accountSid: string, saml: SamlIdpSettings | null): Connection {
  return {
    sid: newSid('connection'),
    accountSid,
    clientId: randomToken().slice(0, 32),
    protocol: 'saml',
    saml,
    mapping: DEFAULT_MAPPING,
    redirectUris: [],
    createdAt: Date.now(),
  };
}

/** Until when the account can switch back to its previous mode without `force`. */
export function revertDeadline(account: Account): number | null {
  return account.previousMode && account.modeChangedAt !== null ? account.modeChangedAt + MODE_SWITCH_GRACE_DAYS * 86_400_000 : null;
}

/**
 * An IdP URL: https, or plain http on this machine only. Metadata carries the certificates we
 * trust and the SSO URL is where users type their passwords: neither may travel in cleartext.
 */
function assertHttpUrl(value: string, field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidParameterError(`${field} must be an absolute URL (got "${value.slice(0, 200)}").`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  if (url.protocol === 'http:') {
    throw new InvalidParameterError(
      `${field} must use https: plain http is accepted only on this machine (localhost, 127.0.0.1, [::1]); got ${url.origin}.`,
    );
  }
  throw new InvalidParameterError(`${field} must be an https URL.`);
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function safeCanonical(url: string): string {
  try {
    return parseTrustedUrl(url).url;
  } catch {
    return url;
  }
}
