import type { AccountService } from '../accounts/account-service.ts';
import type { Account, Connection } from '../accounts/model.ts';
import { assertTrusted, isCoveredBy, parseTrustedUrl } from '../accounts/trusted-urls.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { LanyardConfig } from '../config.ts';
import { droppedRolesNote } from '../connections/profile-mapping.ts';
import { mapProfileExplained } from '../connections/group-overage.ts';
import { explainForConnection } from '../connections/missing-attribute.ts';
import type { SamlConnection } from '../connections/saml-connection.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import type { SamlMessageVerifier } from '../connections/saml-verification-pool.ts';
import { serviceProviderMetadataFor } from '../login/service-provider-metadata.ts';
import { samlConnectionFor, samlDependenciesOf, samlSignInLocation, type SamlDependencies } from '../login/saml-connections.ts';
import { randomToken } from '../crypto/random.ts';
import { InvalidParameterError, InvalidSsoSettingsError, LanyardError, SamlResponseError } from '../errors.ts';
import { authTimeOf } from '../login/fresh-authentication.ts';
import { legacyServiceProvider } from '../login/service-providers.ts';
import type { Storage } from '../storage/port.ts';
import type { IssuedTokens } from '../tokens/model.ts';
import type { TokenService } from '../tokens/token-service.ts';
import { DEFAULT_UNIQUE_ID_POLICY, resolveUniqueId } from '../users/unique-id.ts';
import type { UserService } from '../users/user-service.ts';

const LEGACY_LOGIN = 'legacy_login';

interface LegacyLoginRequest {
  id: string;
  accountSid: string;
  resource: string;
  samlRequestId: string;
}

export interface LegacyOutcome {
  redirectTo: string;
  issued: IssuedTokens | null;
}

/**
 * Legacy SSO (SPEC "Legacy SSO"): the account's SAML IdP, with the desktop token handed back on
 * the resource URL. Same account setup, users and session rules as enhanced SSO.
 */
export class LegacyLoginService {
  constructor(
    private readonly storage: Storage,
    private readonly config: LanyardConfig,
    private readonly accounts: AccountService,
    private readonly users: UserService,
    private readonly tokens: TokenService,
    private readonly audit: AuditLog,
    private readonly spKeys: SpKeys,
    private readonly rateLimits?: RateLimits,
    private readonly samlVerifier?: SamlMessageVerifier,
  ) {}

  private get samlDependencies(): SamlDependencies {
    return samlDependenciesOf(this.config, this.storage, this.spKeys, this.samlVerifier);
  }

  /** `POST /v1/Accounts/{AC}/authenticate`: checks the resource, returns the IdP location. */
  async authenticate(accountSid: string, resource: string): Promise<string> {
    const account = await this.accounts.getAccount(accountSid);
    assertTrusted(
      resource,
      account.trustedUrls.map((u) => parseTrustedUrl(u)),
    );
    if (account.ssoMode === 'enhanced')
      throw new InvalidSsoSettingsError('this account uses enhanced SSO; legacy sign-in is switched off (lanyard mode set … both)');
    const connection = await this.connectionOf(account);
    this.rateLimits?.take('accountSignIns', accountSid);
    const login: LegacyLoginRequest = {
      id: randomToken('ll_'),
      accountSid,
      resource,
      samlRequestId:
        '_' +
        randomToken()
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, 40),
    };
    await this.storage.insert({
      kind: LEGACY_LOGIN,
      id: login.id,
      accountSid,
      payload: login,
      expiresAt: Date.now() + this.config.loginTtlSeconds * 1000,
    });
    return samlSignInLocation(this.samlDependencies, this.samlFor(account, connection), login.samlRequestId, login.id);
  }

  /**
   * The legacy ACS. With a RelayState of ours it completes an SP-initiated login; without one it
   * is an IdP-initiated login, accepted only when the administrator has turned that on, landing
   * on the Default redirect URL.
   */
  async complete(accountSid: string, samlResponse: string | undefined, relayState: string | undefined): Promise<LegacyOutcome> {
    const account = await this.accounts.getAccount(accountSid);
    if (!samlResponse) throw new InvalidParameterError('SAMLResponse is missing from the POST body.');
    const connection = await this.connectionOf(account);
    const consumed = relayState ? await this.storage.consume<LegacyLoginRequest>(LEGACY_LOGIN, relayState) : undefined;
    if (consumed && (!consumed.consumedNow || consumed.record.payload.accountSid !== accountSid)) {
      throw new SamlResponseError('this sign-in request was already completed (replay)');
    }
    const login = consumed?.record.payload;
    if (!login) {
      if (!account.idpInitiatedLogin) {
        throw new SamlResponseError('IdP-initiated sign-in is turned off for this account; start the sign-in from the agent desktop');
      }
      if (!account.defaultRedirectUrl) throw new InvalidSsoSettingsError('IdP-initiated sign-in needs a Default redirect URL');
      // The token goes on this URL: checked again here, before anything is issued, so a Default
      // redirect URL that no Trusted URL covers (however it was stored) never receives one.
      if (!isCoveredBy(account.defaultRedirectUrl, account.trustedUrls)) {
        throw new InvalidSsoSettingsError(
          `IdP-initiated sign-in goes to the Default redirect URL ${account.defaultRedirectUrl}, which no Trusted URL covers; add a Trusted URL for it (lanyard trusted-urls add ${account.sid} ${safeOrigin(account.defaultRedirectUrl)}) or set another Default redirect URL (lanyard redirect-url set)`,
        );
      }
    }
    try {
      const assertion = await this.samlFor(account, connection).verify(samlResponse, login !== undefined);
      if (login && assertion.inResponseTo !== login.samlRequestId)
        throw new SamlResponseError('the response answers another sign-in request (InResponseTo)');
      const uniqueId = resolveUniqueId(assertion, assertion.attributes, connection.uniqueId);
      const profile = mapProfileExplained(uniqueId, assertion.attributes, connection.mapping, account.declaredRoles);
      const user = await this.users.provision(accountSid, profile, {
        caseInsensitiveEmail: (connection.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY).caseInsensitiveEmail,
      });
      this.rateLimits?.take('userSignIns', user.sid);
      const issued = await this.tokens.issueForLegacyLogin({
        accountSid,
        connectionSid: connection.sid,
        clientId: connection.clientId,
        userSid: user.sid,
        nonce: null,
        scope: null,
        authTime: authTimeOf(assertion.authnInstant, null, connection.saml!.clockSkewSeconds * 1000),
        ...assertion.authnContext,
      });
      await this.audit.record({
        type: 'login.succeeded',
        accountSid,
        connectionSid: connection.sid,
        userSid: user.sid,
        uniqueId: user.uniqueId,
        surface: login ? 'legacy' : 'legacy-idp-initiated',
        code: null,
        reason: droppedRolesNote(profile.droppedRoles),
      });
      return { redirectTo: tokenOnUrl(login?.resource ?? account.defaultRedirectUrl!, issued), issued };
    } catch (thrown) {
      // A missing attribute in SAML's words (the assertion), as on the enhanced service provider.
      const error = explainForConnection(thrown, connection);
      const known = error instanceof LanyardError;
      await this.audit.record({
        type: 'login.failed',
        accountSid,
        connectionSid: connection.sid,
        userSid: null,
        uniqueId: null,
        surface: 'legacy',
        code: known ? error.code : 20500,
        reason: known ? error.message : 'internal error while completing the sign-in (see the server log)',
      });
      throw error;
    }
  }

  /** `POST /v1/Accounts/{AC}/Tokens/refresh`: a fresh token for a live session, never past its end. */
  async refresh(accountSid: string, token: string): Promise<IssuedTokens> {
    const { claims } = await this.tokens.verifyAccessTokenFor('legacy-refresh', token, { accountSid });
    return this.tokens.reissueAccessToken(claims);
  }

  /** The legacy SP's metadata, with the keys of the account's SAML connection once it has one. */
  async metadataFor(accountSid: string): Promise<string> {
    const connection = (await this.accounts.connectionsOf(accountSid)).find((c) => c.saml !== null);
    return serviceProviderMetadataFor(this.spKeys, legacyServiceProvider(this.config.publicUrl, accountSid), connection);
  }

  private async connectionOf(account: Account): Promise<Connection> {
    const connection = (await this.accounts.connectionsOf(account.sid)).find((c) => c.saml !== null);
    if (!connection?.saml) throw new InvalidSsoSettingsError('no SAML identity provider is configured for this account');
    return connection;
  }

  private samlFor(account: Account, connection: Connection): SamlConnection {
    return samlConnectionFor(this.samlDependencies, connection, legacyServiceProvider(this.config.publicUrl, account.sid));
  }
}

/** SPEC: `?Token=…&Expiration=…&Identity=…&Roles=…&flexUserSid=…`, Roles repeated. */
function tokenOnUrl(resource: string, issued: IssuedTokens): string {
  const url = new URL(resource);
  url.searchParams.set('Token', issued.accessToken);
  url.searchParams.set('Expiration', new Date(issued.accessTokenExpiresAt).toISOString());
  url.searchParams.set('Identity', issued.user.identity);
  url.searchParams.delete('Roles');
  for (const role of issued.user.roles) url.searchParams.append('Roles', role);
  url.searchParams.set('flexUserSid', issued.user.sid);
  return url.toString();
}

/** The origin of a stored URL for an error message, or the URL itself when it does not parse. */
function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
