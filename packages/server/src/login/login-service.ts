import type { AccountService } from '../accounts/account-service.ts';
import { unstorableText } from '../storage/storable-values.ts';
import type { Account, Connection } from '../accounts/model.ts';
import { assertTrusted, exactRedirectMatch, parseTrustedUrl } from '../accounts/trusted-urls.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { LanyardConfig } from '../config.ts';
import { uniqueIdOf, type ConnectionProtocol, type IdpMessage, type IdpRequest, type VerifiedSignIn } from '../connections/connection-protocol.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import type { SamlMessageVerifier } from '../connections/saml-verification-pool.ts';
import { droppedRolesNote } from '../connections/profile-mapping.ts';
import { mapProfileExplained } from '../connections/group-overage.ts';
import { explainForConnection } from '../connections/missing-attribute.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { randomToken } from '../crypto/random.ts';
import {
  InvalidGrantError,
  InvalidParameterError,
  InvalidSsoSettingsError,
  LanyardError,
  SamlResponseError,
  UnregisteredRedirectUriError,
  oauthDescription,
} from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import type { Surface } from '../tokens/model.ts';
import type { TokenService } from '../tokens/token-service.ts';
import { DEFAULT_UNIQUE_ID_POLICY } from '../users/unique-id.ts';
import type { UserService, User } from '../users/user-service.ts';
import { appTileLanding, isAppTileResponse } from './app-tiles.ts';
import { authTimeOf, parseFreshness, wantsForceAuthn, type Freshness } from './fresh-authentication.ts';
import { samlDependenciesOf, type SamlDependencies } from './saml-connections.ts';
import { browserLocation } from './saml-post-binding.ts';
import { connectionProtocol, type ServiceProviderKind } from './connection-protocols.ts';

/**
 * The sign-in budgets the broker charges (per account, per user, per minute and node); the
 * node's rate limiter (`http/rate-limit.ts`, `RateLimits`) is one. Throws RateLimitedError (429)
 * when one is spent.
 */
export interface SignInBudgets {
  take(budget: 'accountSignIns' | 'userSignIns', key: string): void;
}

const LOGIN_REQUEST = 'login_request';
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const FLEX_PKCE_NAMES = { challenge: 'codeChallenge', method: 'codeChallengeMethod' };
const STANDARD_PKCE_NAMES = { challenge: 'code_challenge', method: 'code_challenge_method' };

/** A sign-in in flight between our authorize endpoint and the IdP's answer at the ACS. */
export interface LoginRequest {
  id: string;
  surface: Exclude<Surface, 'legacy'>;
  accountSid: string;
  connectionSid: string;
  clientId: string;
  redirectUrl: string;
  state: string;
  nonce: string | null;
  codeChallenge: string;
  scope: string | null;
  /** The AuthnRequest ID we sent: the response's InResponseTo must equal it. */
  samlRequestId: string;
  /** For an OpenID Connect upstream: the nonce and PKCE verifier we sent it. */
  upstream: { nonce: string; codeVerifier: string } | null;
  /** The client's `prompt=login` / `max_age` (standard surface); absent on older records. */
  freshness?: Freshness | null;
}

export interface AuthorizeInput {
  surface: Exclude<Surface, 'legacy'>;
  connectionSid: string;
  clientId?: string;
  /** Standard surface: the verified client (a registered one, or the connection's built-in client). */
  client?: { clientId: string; redirectUris: string[] };
  redirectUrl: string;
  state: string;
  nonce?: string;
  codeChallenge: string;
  codeChallengeMethod?: string;
  scope?: string;
  /** OIDC Core §3.1.2.1 `prompt` and `max_age`, as received. */
  prompt?: string;
  maxAge?: string;
}

/**
 * The IdP's answer at one of the broker's endpoints (SAML ACS, OIDC callback), whatever the protocol.
 */
export interface IdpAnswer {
  /** The connection the endpoint names (the enhanced ACS URL does); absent: the sign-in names it (OIDC callback). */
  connectionSid?: string;
  /** Our sign-in's id as the IdP returned it: SAML RelayState, OIDC `state`. */
  signInId: string | undefined;
  /** What the IdP sent; undefined when a POST to the ACS carried no SAMLResponse. */
  message: IdpMessage | undefined;
}

/** Where the browser goes after the ACS: the client's redirect URL with a code or an error. */
export interface LoginOutcome {
  redirectTo: string;
  user: User | null;
}

/**
 * Brokers a sign-in from an authorize endpoint (Flex or standard OIDC) to the connection's IdP
 * and back, ending in an authorization code. Redirect targets are checked before any redirect.
 */
export class LoginService {
  constructor(
    private readonly storage: Storage,
    private readonly config: LanyardConfig,
    private readonly accounts: AccountService,
    private readonly users: UserService,
    private readonly tokens: TokenService,
    private readonly audit: AuditLog,
    private readonly secrets: SecretBox,
    private readonly spKeys: SpKeys,
    private readonly rateLimits?: SignInBudgets,
    private readonly samlVerifier?: SamlMessageVerifier,
  ) {}

  /** What SAML sign-ins need besides the connection: storage, SP keys, where the POST-binding page lives, where responses are verified. */
  get samlDependencies(): SamlDependencies {
    return samlDependenciesOf(this.config, this.storage, this.spKeys, this.samlVerifier);
  }

  /** Validates the request (nothing redirects before this passes) and returns the IdP URL. */
  async begin(input: AuthorizeInput): Promise<string> {
    const connection = await this.accounts.getConnection(input.connectionSid, input.surface === 'flex' ? 'ssoProfileSid' : 'connection');
    const account = await this.accounts.getAccount(connection.accountSid);
    const clientId = input.client?.clientId ?? connection.clientId;
    if (input.clientId !== undefined && input.clientId !== clientId) {
      throw new InvalidParameterError('client_id does not belong to this connection.');
    }
    this.checkRedirect(input, account, connection);
    // The Flex contract requires state; on the standard surface PKCE already binds the response
    // to the client (RFC 9700 §2.1), so state is optional there.
    if ((input.surface === 'flex' && !input.state) || input.state.length > 1024)
      throw new InvalidParameterError('state is required (at most 1024 characters).');
    if (input.nonce !== undefined && input.nonce.length > 1024) throw new InvalidParameterError('nonce must be at most 1024 characters.');
    // Kept with the pending sign-in and sent back as received: refused rather than altered by storage.
    for (const [name, value] of [
      ['state', input.state],
      ['nonce', input.nonce],
      ['scope', input.scope],
    ] as const) {
      const problem = value ? unstorableText(value) : undefined;
      if (problem) throw new InvalidParameterError(`${name}: ${problem}; send it without that character.`);
    }
    // Error texts name the parameters of the surface the client speaks, and never echo its input.
    const names = input.surface === 'flex' ? FLEX_PKCE_NAMES : STANDARD_PKCE_NAMES;
    if (!input.codeChallenge) throw new InvalidParameterError(`PKCE is required: send ${names.challenge} with ${names.method} S256 (RFC 7636).`);
    const method = input.codeChallengeMethod ?? 'S256';
    if (method !== 'S256') throw new InvalidParameterError(`${names.method} must be S256 (only S256 is allowed; plain is refused, RFC 9700 §2.1.1).`);
    if (!PKCE_CHALLENGE.test(input.codeChallenge)) {
      throw new InvalidParameterError(`${names.challenge} must be the base64url SHA-256 of a PKCE code verifier (43 characters).`);
    }
    if (account.ssoMode === 'legacy') throw new InvalidSsoSettingsError('this account uses legacy SSO; switch it to enhanced SSO first');
    const protocol = this.protocolFor(connection);
    // Each start stores a pending login: an account's budget caps a flood from many addresses.
    this.rateLimits?.take('accountSignIns', account.sid);

    const login: LoginRequest = {
      id: randomToken('lr_'),
      surface: input.surface,
      accountSid: account.sid,
      connectionSid: connection.sid,
      clientId,
      redirectUrl: input.redirectUrl,
      state: input.state,
      nonce: input.nonce ?? null,
      codeChallenge: input.codeChallenge,
      scope: input.scope ?? null,
      ...protocol.newChecks(),
      freshness: input.prompt !== undefined || input.maxAge !== undefined ? parseFreshness(input.prompt, input.maxAge) : null,
    };
    await this.storage.insert({
      kind: LOGIN_REQUEST,
      id: login.id,
      accountSid: account.sid,
      payload: login,
      expiresAt: Date.now() + this.config.loginTtlSeconds * 1000,
    });
    const freshness = login.freshness ?? null;
    const request = await protocol.start(login.id, login, { forceAuthn: wantsForceAuthn(freshness), fresh: freshness });
    return this.browserLocation(request);
  }

  /**
   * Where the browser goes to carry `request` to the IdP: its URL (HTTP-Redirect, OIDC), or the
   * broker's page that POSTs a staged AuthnRequest (HTTP-POST binding, saml-post-binding.ts).
   */
  browserLocation(request: IdpRequest): Promise<string> {
    const { storage, publicUrl, requestTtlMs } = this.samlDependencies;
    return browserLocation(storage, publicUrl, request, requestTtlMs);
  }

  private checkRedirect(input: AuthorizeInput, account: Account, connection: Connection): void {
    if (!input.redirectUrl) throw new InvalidParameterError(input.surface === 'flex' ? 'redirectUrl is required.' : 'redirect_uri is required.');
    if (input.surface === 'oidc') {
      // RFC 9700 §4.1.1: exact matching of registered redirect URIs on the standard surface.
      if (!exactRedirectMatch(input.redirectUrl, input.client?.redirectUris ?? connection.redirectUris)) {
        throw new UnregisteredRedirectUriError('redirect_uri', input.client?.clientId ?? connection.clientId);
      }
      return;
    }
    if (!account.defaultRedirectUrl) {
      throw new InvalidSsoSettingsError(
        'the account has no Domain redirect URL; an administrator must set it (lanyard redirect-url set) before self-hosted enhanced SSO can be used',
      );
    }
    assertTrusted(
      input.redirectUrl,
      account.trustedUrls.map((u) => parseTrustedUrl(u)),
    );
  }

  /**
   * Handles the IdP's answer (a SAMLResponse at the enhanced ACS, a redirect to the OIDC callback)
   * and produces the redirect back to the client: with a code, or with the error once the sign-in
   * it answers is known.
   */
  async complete(answer: IdpAnswer): Promise<LoginOutcome> {
    const answered = await this.answeredSignIn(answer);
    if ('redirectTo' in answered) return answered;
    const { login, connection, message } = answered;
    return this.finish(login, connection, () => this.protocolFor(connection).complete(message, login.id, login));
  }

  /**
   * The pending sign-in an answer belongs to, spent (single use). At the ACS the URL names the
   * connection and RelayState the sign-in; an unsolicited response is only an app tile's. At the
   * OIDC callback `state` names the sign-in, and with it the connection.
   */
  private async answeredSignIn(answer: IdpAnswer): Promise<LoginOutcome | { login: LoginRequest; connection: Connection; message: IdpMessage }> {
    if (answer.connectionSid === undefined) {
      const state = answer.signInId;
      if (!state) throw new InvalidParameterError("state is missing from the identity provider's redirect.");
      const pending = await this.storage.find<LoginRequest>(LOGIN_REQUEST, state);
      if (!pending) throw new SamlResponseError('the sign-in request has expired or is unknown; start the sign-in again');
      const connection = await this.accounts.getConnection(pending.payload.connectionSid);
      const login = await this.consumeLogin(state, connection.sid);
      if (!answer.message) throw new InvalidParameterError("the identity provider's redirect carries no answer.");
      return { login, connection, message: answer.message };
    }
    const connection = await this.accounts.getConnection(answer.connectionSid);
    const message = answer.message;
    if (!message) throw new InvalidParameterError('SAMLResponse is missing from the POST body.');
    if ('samlResponse' in message && (await isAppTileResponse(message.samlResponse, answer.signInId))) {
      return { redirectTo: appTileLanding(await this.accounts.getAccount(connection.accountSid)), user: null };
    }
    if (!answer.signInId) throw new SamlResponseError('RelayState is missing: IdP-initiated sign-in is not accepted at this endpoint');
    return { login: await this.consumeLogin(answer.signInId, connection.sid), connection, message };
  }

  private async consumeLogin(id: string, connectionSid: string): Promise<LoginRequest> {
    const consumed = await this.storage.consume<LoginRequest>(LOGIN_REQUEST, id);
    if (!consumed || consumed.record.payload.connectionSid !== connectionSid) {
      throw new SamlResponseError('the sign-in request has expired or is unknown; start the sign-in again');
    }
    if (!consumed.consumedNow) throw new SamlResponseError('this sign-in request was already completed (replay)');
    return consumed.record.payload;
  }

  /** The same ending for every IdP protocol: map, provision, mint a code, audit. */
  private async finish(login: LoginRequest, connection: Connection, verify: () => Promise<VerifiedSignIn>): Promise<LoginOutcome> {
    try {
      const verified = await verify();
      const { attributes, authTime: reported, authnContext } = verified;
      const uniqueId = uniqueIdOf(verified, connection.uniqueId);
      const authTime = authTimeOf(reported, login.freshness ?? null, (connection.saml?.clockSkewSeconds ?? 120) * 1000);
      const account = await this.accounts.getAccount(connection.accountSid);
      const profile = mapProfileExplained(uniqueId, attributes, connection.mapping, account.declaredRoles);
      const user = await this.users.provision(connection.accountSid, profile, {
        caseInsensitiveEmail: (connection.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY).caseInsensitiveEmail,
      });
      if (user.disabled) throw new InvalidGrantError('This user has been disabled by an administrator.');
      this.rateLimits?.take('userSignIns', user.sid);
      const code = await this.tokens.createCode({
        surface: login.surface,
        accountSid: login.accountSid,
        connectionSid: login.connectionSid,
        clientId: login.clientId,
        userSid: user.sid,
        redirectUrl: login.redirectUrl,
        codeChallenge: login.codeChallenge,
        nonce: login.nonce,
        scope: login.scope,
        authTime,
        ...authnContext,
      });
      await this.audit.record({
        type: 'login.succeeded',
        accountSid: login.accountSid,
        connectionSid: connection.sid,
        userSid: user.sid,
        uniqueId: user.uniqueId,
        surface: login.surface,
        code: null,
        reason: droppedRolesNote(profile.droppedRoles),
      });
      return { redirectTo: this.redirectWith(login, { code }), user };
    } catch (thrown) {
      // A missing claim in the connection's words, with a scope it does not request as the cause.
      const error = explainForConnection(thrown, connection);
      // The pending sign-in is spent either way: leave a trace for the administrator.
      const known = error instanceof LanyardError;
      await this.audit.record({
        type: 'login.failed',
        accountSid: login.accountSid,
        connectionSid: connection.sid,
        userSid: null,
        uniqueId: null,
        surface: login.surface,
        code: known ? error.code : 20500,
        reason: known ? error.message : 'internal error while completing the sign-in (see the server log)',
      });
      if (!known) throw error;
      // RFC 6749 §4.1.2.1: the redirect was verified at authorize, so the client hears of the failure.
      return {
        redirectTo: this.redirectWith(login, {
          error: error.oauthError,
          // RFC 6749 §4.1.2.1: the standard surface's description stays within its character set.
          error_description: login.surface === 'oidc' ? oauthDescription(error.message) : error.message,
          error_code: String(error.code),
        }),
        user: null,
      };
    }
  }

  private redirectWith(login: LoginRequest, params: Record<string, string>): string {
    const url = new URL(login.redirectUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    if (login.state) url.searchParams.set('state', login.state);
    if (login.surface === 'oidc') url.searchParams.set('iss', this.config.publicUrl); // RFC 9207
    return url.toString();
  }

  /**
   * The connection's protocol (connection-protocols.ts) through `serviceProvider`, for the features
   * that share the broker's endpoints (the console's test sign-in): nobody else asks which one it is.
   * @throws InvalidSsoSettingsError without IdP settings; InvalidParameterError for legacy and OIDC.
   */
  protocolFor(connection: Connection, serviceProvider: ServiceProviderKind = 'enhanced'): ConnectionProtocol {
    return connectionProtocol(connection, { ...this.samlDependencies, secrets: this.secrets }, serviceProvider);
  }
}
