import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AccountService } from '../accounts/account-service.ts';
import type { Account, AccountIdentity } from '../accounts/model.ts';
import type { LanyardConfig } from '../config.ts';
import { randomToken, sha256 } from '../crypto/random.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { InvalidGrantError, InvalidTokenError, LanyardError, SessionLifetimeExceededError } from '../errors.ts';
import type { NewRecord, RecordLink, Storage } from '../storage/port.ts';
import { USER_RECORD_KIND, type User, type UserService } from '../users/user-service.ts';
import type { AccessTokens } from './access-tokens.ts';
import { announceGrant, type ReplayEvent, type TokenEvents } from './grant-events.ts';
import { checkExchange, type CodeExchange } from './code-exchange.ts';
import { narrowScope } from './grant-scope.ts';
import { IssuedHere, type IssuedRefreshToken } from './issued-here.ts';
import { assertIssuedFor, type TokenEndpoint, type TokenExpectation } from './token-scope.ts';
import type { AccessTokenClaims, CodeGrant, CodeRecord, IssuedTokens, RefreshTokenRecord, Session, Surface } from './model.ts';

const CODE = 'auth_code';
const SESSION = 'session';
const REFRESH = 'refresh_token';
/** UserService's record kind: a refresh reads its user together with its session. */
const USER = USER_RECORD_KIND;
/** Spent refresh tokens are kept this long past their use-by time so reuse is still recognised. */
const REUSE_MEMORY_MS = 24 * 3600_000;
const REUSE_DETECTED = Symbol('refresh token reuse');
/** What `rotateIssuedHere` leaves to `rotate`: the family's budget charged for this request, or not. */
const CHARGED = Symbol('charged');
const NOT_CHARGED = Symbol('not charged');
/** What a refresh token's record names (RefreshTokenRecord), read as the token is spent. */
const REFRESH_LINKS: ReadonlyArray<RecordLink> = [
  { kind: SESSION, idField: 'sessionId' },
  { kind: USER, idField: 'userSid' },
];

export interface RefreshRequest {
  refreshToken: string;
  /** The surface asking: a refresh token renews only at the surface that issued it. */
  surface: Exclude<Surface, 'legacy'>;
  connectionSid?: string;
  clientId?: string;
  /**
   * The request's `scope` (RFC 6749 §6), standard surface only: checked against the session's
   * grant once the token is known live and this client's (`grant-scope.ts`); the access token,
   * ID token and response of this grant carry the narrowed scope, the session keeps its grant.
   */
  scope?: string;
}

/**
 * The refresh budget the token core charges per session (refresh-token family, per minute and
 * node); the node's rate limiter (`http/rate-limit.ts`, `RateLimits`) is one. Throws
 * RateLimitedError (429) when it is spent.
 */
export interface RefreshBudget {
  take(budget: 'refreshFamily', key: string): void;
}

/**
 * The one token core behind every surface (Flex wire API, standard OIDC, legacy): authorization
 * codes, sessions, rotating refresh-token families and access-token validation.
 */
export class TokenService {
  private readonly successorKeyPurpose = 'lanyard/refresh-successor/v1';
  /** Refresh tokens this node stored and has not seen presented (`rotateIssuedHere`). */
  private readonly issuedHere = new IssuedHere();
  /** Emits `grant` once per code exchange or refresh, issued or refused. Listeners must not throw. */
  readonly events = new EventEmitter<TokenEvents>();

  constructor(
    private readonly storage: Storage,
    private readonly config: LanyardConfig,
    private readonly secrets: SecretBox,
    private readonly accessTokens: AccessTokens,
    private readonly accounts: AccountService,
    private readonly users: UserService,
    /** Refresh grants per session are budgeted here (the family is known only once the token is read). */
    private readonly rateLimits?: RefreshBudget,
  ) {}

  /** A short-lived, single-use code for a completed IdP login. */
  async createCode(grant: CodeGrant): Promise<string> {
    const code = randomToken();
    const record: CodeRecord = { ...grant, sessionId: randomToken('ses_') };
    await this.storage.insert({
      kind: CODE,
      id: sha256(code),
      accountSid: grant.accountSid,
      payload: record,
      expiresAt: Date.now() + this.config.codeTtlSeconds * 1000,
    });
    return code;
  }

  /** Exchanges a code for tokens (RFC 6749 §4.1.3) and announces the outcome as a `grant` event. */
  exchangeCode(request: CodeExchange): Promise<IssuedTokens> {
    return announceGrant(this.events, 'authorization_code', this.spendCode(request));
  }

  /** Rotates a refresh token (RFC 6749 §6) and announces the outcome as a `grant` event. */
  refresh(request: RefreshRequest): Promise<IssuedTokens> {
    return announceGrant(this.events, 'refresh_token', this.rotate(request));
  }

  /**
   * Spends the code and creates its session and first refresh token in one transaction: if the
   * database fails half-way, nothing was spent and the client's retry succeeds. Refusals (replay,
   * wrong verifier) commit, so the code stays spent and a replay's revocation sticks.
   */
  private async spendCode(request: CodeExchange): Promise<IssuedTokens> {
    const now = Date.now();
    let replayed: ReplayEvent | undefined;
    const outcome = await this.storage.transaction(async (tx): Promise<PreparedGrant | LanyardError> => {
      const result = await tx.consume<CodeRecord>(CODE, sha256(request.code), now);
      if (!result) return new InvalidGrantError('The authorization code is invalid or has expired.');
      const grant = result.record.payload;
      if (!result.consumedNow) {
        // RFC 6749 §4.1.2: a code used twice revokes what it issued.
        // Announced once: a replay of a code whose session is already revoked revokes nothing.
        if (await this.revokeWith(tx, grant.sessionId, 'authorization_code_replay', now)) {
          replayed = { type: 'code.replayed', sessionId: grant.sessionId, ...whose(grant) };
        }
        return new InvalidGrantError(
          'The authorization code has already been used (a code works once, even when that exchange failed); any tokens issued for it have been revoked.',
        );
      }
      try {
        checkExchange(grant, request);
        return await this.startSession(tx, grant.sessionId, grant, now);
      } catch (error) {
        // Refused for a reason of the request: commit, the code is spent. A database failure
        // (5xx) propagates and rolls everything back.
        if (error instanceof LanyardError && error.status < 500) return error;
        throw error;
      }
    });
    if (replayed) this.events.emit('replay', replayed);
    if (outcome instanceof LanyardError) throw outcome;
    const first = this.successorRecord(outcome);
    this.issuedHere.remember(first.id, { session: outcome.session, token: first.payload });
    return this.sign(outcome);
  }

  /**
   * Creates the session a grant starts and its first refresh token. Fails when a replay already
   * left a revocation tombstone under this id.
   */
  private async startSession(tx: Storage, id: string, grant: Omit<CodeGrant, 'codeChallenge' | 'redirectUrl'>, now: number): Promise<PreparedGrant> {
    const session: Session = {
      id,
      surface: grant.surface,
      accountSid: grant.accountSid,
      connectionSid: grant.connectionSid,
      clientId: grant.clientId,
      userSid: grant.userSid,
      nonce: grant.nonce,
      scope: grant.scope,
      authTime: grant.authTime,
      ...(grant.acr ? { acr: grant.acr } : {}),
      ...(grant.amr?.length ? { amr: grant.amr } : {}),
      createdAt: now,
      // The shift starts with this session, not with the IdP's authentication (auth_time), which
      // an IdP session may have made hours earlier.
      maxExpiresAt: now + this.config.sessionMaxLifetimeSeconds * 1000,
      revokedAt: null,
      revokedReason: null,
    };
    if (
      !(await tx.insert({
        kind: SESSION,
        id: session.id,
        accountSid: session.accountSid,
        family: session.id,
        payload: session,
        expiresAt: session.maxExpiresAt + REUSE_MEMORY_MS,
      }))
    ) {
      throw new InvalidGrantError(
        'The authorization code has already been used (a code works once, even when that exchange failed); any tokens issued for it have been revoked.',
      );
    }
    return this.prepare(tx, session, randomToken('lrt_'), now, true);
  }

  /**
   * Rotates a refresh token. A spent token presented again within the grace window (a retried
   * request, two tabs racing) returns the same successor; later, it revokes the whole family
   * (RFC 9700 §4.14.2). At the session cap the token is renewed without rotating (`TokenKeptAtCap`).
   *
   * A token this node issued (`IssuedHere`), the common case, takes one storage step: its session
   * is known, so it is checked first and the token spent with its successor stored in one atomic
   * step that also requires the session unrevoked and the user present and enabled
   * (`consumeAndInsertIf`, which returns the user to sign with). Any other live token takes two:
   * read the token with its session and user (`findWithLinked`), check them, then spend it
   * (`consumeAndInsert`). Both spend only a token still unspent: a token presented twice at once
   * rotates once. A token whose one step spent nothing is decided as an unknown one, and every
   * other case — a spent token, or a race lost between the two steps — in one transaction that
   * spends the token before looking at it (`rotateInTransaction`).
   */
  private async rotate(request: RefreshRequest): Promise<IssuedTokens> {
    const now = Date.now();
    const tokenId = sha256(request.refreshToken);
    const successor = this.successorOf(request.refreshToken);
    const issued = this.issuedHere.take(tokenId, now);
    const attempt = issued ? await this.rotateIssuedHere(issued, request, tokenId, successor, now) : NOT_CHARGED;
    if (attempt !== NOT_CHARGED && attempt !== CHARGED) return attempt;
    let charged = attempt === CHARGED;
    const found = await this.storage.findWithLinked<RefreshTokenRecord>(REFRESH, tokenId, REFRESH_LINKS);
    // Tokens are stored before they are handed out: one not found now never will be.
    if (!found) throw new InvalidGrantError('The refresh token is invalid or has expired.');
    if (found.record.consumedAt === null) {
      const presented = this.checkPresented(found.record.payload, found.linked[0]?.payload as Session | undefined, request, !charged);
      charged = true;
      const terms = this.liveTerms(presented, request, now);
      const user = found.linked[1]?.payload as User | undefined;
      if (!terms.rotates) return this.sign(await this.prepare(this.storage, presented.session, request.refreshToken, now, false, terms.scope, user));
      const grant = await this.prepare(this.storage, presented.session, successor, now, false, terms.scope, user);
      const record = this.successorRecord(grant);
      // Spent at the time of the spend, not of the request: the grace window of a retry counts from it.
      if (await this.storage.consumeAndInsert(REFRESH, tokenId, record, Date.now())) {
        this.issuedHere.remember(record.id, { session: presented.session, token: record.payload });
        return this.sign(grant);
      }
      // Spent meanwhile by another request presenting the same token: decided as a spent token.
    }
    return this.rotateInTransaction(request, tokenId, successor, !charged);
  }

  /**
   * `rotate` for a token this node issued: the same checks on what the node remembers (a
   * session's fields never change but for its revocation), then one step that spends the token
   * only while the session is unrevoked and the user present and enabled. Refuses nothing
   * itself: when a check fails (its refusal might not be the one owed: a revoked session is
   * refused before anything else, whatever scope was asked for), the budget is spent, or the
   * step spends nothing, `rotate` decides from what is stored (`CHARGED`: with the budget charged
   * once already; `NOT_CHARGED`: not). Nothing is spent unless the grant is issued.
   */
  private async rotateIssuedHere(
    { session, token }: IssuedRefreshToken,
    request: RefreshRequest,
    tokenId: string,
    successor: string,
    now: number,
  ): Promise<IssuedTokens | typeof CHARGED | typeof NOT_CHARGED> {
    let terms: { scope: string | null; rotates: boolean };
    let account: AccountIdentity;
    try {
      terms = this.liveTerms(this.checkPresented(token, session, request, false), request, now);
      if (!terms.rotates) return NOT_CHARGED;
      // Read once a process (an account removed since fails here, and is refused as `rotate` refuses it).
      account = await this.accountIdentity(this.storage, session.accountSid);
      this.rateLimits?.take('refreshFamily', session.id);
    } catch (error) {
      if (error instanceof LanyardError) return NOT_CHARGED;
      throw error;
    }
    const times = this.grantTimes(session, now);
    const record = this.successorRecord({ session, refreshToken: successor, ...times });
    const read = await this.storage.consumeAndInsertIf(
      REFRESH,
      tokenId,
      record,
      [
        { kind: SESSION, id: session.id, expected: { revokedAt: null } },
        { kind: USER, id: session.userSid, expected: { disabled: false } },
      ],
      Date.now(),
    );
    if (!read) return CHARGED;
    this.issuedHere.remember(record.id, { session, token: record.payload });
    return this.sign({ session, user: read[1] as User, account, scope: terms.scope, refreshToken: successor, ...times });
  }

  /** `rotate` for a token found spent (or spent since it was read): spends and decides in one transaction. */
  private async rotateInTransaction(request: RefreshRequest, tokenId: string, successor: string, charge: boolean): Promise<IssuedTokens> {
    let grant: PreparedGrant | typeof REUSE_DETECTED;
    let replayed: ReplayEvent | undefined;
    try {
      grant = await this.storage.transaction(async (tx) => {
        const result = await tx.consumeWithLinked<RefreshTokenRecord>(REFRESH, tokenId, REFRESH_LINKS, Date.now());
        if (!result) throw new InvalidGrantError('The refresh token is invalid or has expired.');
        // Read once the token is spent or found spent: a request that began before another spent
        // the token, but got here after, must not see a negative time since the spend.
        const now = Date.now();
        const presented = this.checkPresented(result.record.payload, result.linked[0]?.payload as Session | undefined, request, charge);
        // Tokens stored before they named their user: `prepare` reads the user instead.
        const user = result.linked[1]?.payload as User | undefined;
        if (!result.consumedNow) {
          const spentAt = result.record.consumedAt ?? 0;
          const next = await tx.find<RefreshTokenRecord>(REFRESH, sha256(successor));
          // Strictly less: a grace of 0 turns the window off even for a reuse in the same
          // millisecond. At least 0: another node's clock may run behind this one's.
          const sinceSpent = Math.max(0, now - spentAt);
          const withinGrace = sinceSpent < this.config.refreshGraceSeconds * 1000 && next !== undefined && next.consumedAt === null;
          if (!withinGrace) {
            // Commit the revocation: throwing here would roll it back with the transaction.
            // Whatever `scope` asked for: reuse is detected before the scope is looked at.
            // Announced once: concurrent reuses all end here, one of them revokes.
            if (await this.revokeWith(tx, presented.session.id, 'refresh_token_reuse', now)) {
              replayed = { type: 'token.refresh_reuse', sessionId: presented.session.id, ...whose(presented.session) };
            }
            return REUSE_DETECTED;
          }
          return this.prepare(tx, presented.session, successor, now, false, narrowScope(presented.session.scope, request.scope), user);
        }
        const terms = this.liveTerms(presented, request, now);
        // Throwing rolls the consumption back: the same token stays usable until the cap.
        if (!terms.rotates) throw new TokenKeptAtCap(await this.prepare(tx, presented.session, request.refreshToken, now, false, terms.scope, user));
        return this.prepare(tx, presented.session, successor, now, true, terms.scope, user);
      });
    } catch (error) {
      if (error instanceof TokenKeptAtCap) return this.sign(error.grant);
      throw error;
    }
    if (grant === REUSE_DETECTED) {
      if (replayed) this.events.emit('replay', replayed);
      throw new InvalidGrantError('This refresh token was already used; the session has been revoked to protect the account. Sign in again.');
    }
    return this.sign(grant);
  }

  /**
   * The checks every presented refresh token passes, spent or not, in this order: its session is
   * live, it was issued at this surface, the session's refresh budget is not spent (`charge`:
   * false when this request was charged already, before it went to the transaction), and it
   * was issued for this connection and client. Nothing is spent before them: a refusal leaves
   * the token usable.
   */
  private checkPresented(token: RefreshTokenRecord, session: Session | undefined, request: RefreshRequest, charge: boolean): PresentedToken {
    if (!session || session.revokedAt !== null) throw new InvalidGrantError('The session of this refresh token has been revoked; sign in again.');
    if (session.surface !== request.surface) throw new InvalidGrantError('The refresh token was not issued to this endpoint.');
    // A runaway or hammering client: refused before anything is spent. Charged once a request.
    if (charge) this.rateLimits?.take('refreshFamily', session.id);
    if (request.connectionSid !== undefined && request.connectionSid !== session.connectionSid) {
      throw new InvalidGrantError('The refresh token was issued for another connection (sso_profile_sid).');
    }
    if (request.clientId !== undefined && request.clientId !== session.clientId)
      throw new InvalidGrantError('The refresh token was issued to another client.');
    return { token, session };
  }

  /**
   * What a live token of this client gets: refused past the session's lifetime or the token's
   * own, or for a scope beyond the session's grant; else the grant's scope, and whether it
   * rotates: not when the access token it came with already ended at the session cap
   * (`TokenKeptAtCap`). Reads and writes nothing.
   */
  private liveTerms({ token, session }: PresentedToken, request: RefreshRequest, now: number): { scope: string | null; rotates: boolean } {
    if (now >= session.maxExpiresAt) throw new SessionLifetimeExceededError();
    if (now >= token.usableUntil) throw new InvalidGrantError('The refresh token has expired; sign in again.');
    // Checked only now, on a live token of this client.
    const scope = narrowScope(session.scope, request.scope);
    return { scope, rotates: token.accessTokenExpiresAt !== session.maxExpiresAt };
  }

  /**
   * Records what a grant issues (inside the caller's transaction); `sign` then makes the tokens
   * after it commits, so no signing or key loading ever runs while a transaction is open.
   */
  private async prepare(
    tx: Storage,
    session: Session,
    refreshToken: string,
    now: number,
    storeRefresh: boolean,
    scope: string | null = session.scope,
    known?: User,
  ): Promise<PreparedGrant> {
    // Read through the transaction: on SQLite anything else would wait for it to finish.
    const user = known?.sid === session.userSid ? known : await this.users.within(tx).find(session.userSid);
    // Merged into another user by an administrator (`lanyard users merge`): the session ends.
    if (!user) throw new InvalidGrantError('The user of this session no longer exists; sign in again.');
    if (user.disabled) throw new InvalidGrantError('This user has been disabled by an administrator.');
    const account = await this.accountIdentity(tx, session.accountSid);
    const grant = { session, user, account, scope, refreshToken, ...this.grantTimes(session, now) };
    if (storeRefresh) await tx.insert(this.successorRecord(grant));
    return grant;
  }

  /** When a grant made at `now` ends (ms since the epoch): its access token and its refresh token, neither past the session cap. */
  private grantTimes(session: Session, now: number): Pick<PreparedGrant, 'accessTokenExpiresAt' | 'refreshTokenExpiresAt'> {
    return {
      accessTokenExpiresAt: Math.min(now + this.config.accessTokenTtlSeconds * 1000, session.maxExpiresAt),
      refreshTokenExpiresAt: Math.min(now + this.config.refreshTokenTtlSeconds * 1000, session.maxExpiresAt),
    };
  }

  /** The stored record of the refresh token a grant issues (hashed: the token itself is never stored). */
  private successorRecord(
    grant: Pick<PreparedGrant, 'session' | 'refreshToken' | 'refreshTokenExpiresAt' | 'accessTokenExpiresAt'>,
  ): NewRecord<RefreshTokenRecord> {
    const { session, refreshToken, refreshTokenExpiresAt, accessTokenExpiresAt } = grant;
    // No account column: nothing lists refresh tokens by account (revocation is the session's),
    // and an indexed column is one more index entry written on every grant.
    return {
      kind: REFRESH,
      id: sha256(refreshToken),
      family: session.id,
      payload: { sessionId: session.id, userSid: session.userSid, usableUntil: refreshTokenExpiresAt, accessTokenExpiresAt },
      expiresAt: refreshTokenExpiresAt + REUSE_MEMORY_MS,
    };
  }

  /** Account SIDs and their Flex instance SIDs never change: read once per process, not per grant. */
  private readonly identities = new Map<string, AccountIdentity>();

  private async accountIdentity(tx: Storage, accountSid: string): Promise<AccountIdentity> {
    const known = this.identities.get(accountSid);
    if (known) return known;
    const { sid, instanceSid } = await this.accounts.within(tx).getAccount(accountSid);
    this.identities.set(accountSid, { sid, instanceSid });
    return { sid, instanceSid };
  }

  private async sign(grant: PreparedGrant): Promise<IssuedTokens> {
    const { session, user, account, scope, accessTokenExpiresAt } = grant;
    const accessToken = await this.accessTokens.issueAccessToken(session, user, account, accessTokenExpiresAt, scope);
    const idToken =
      session.surface === 'oidc' && scope?.split(' ').includes('openid')
        ? await this.accessTokens.issueIdToken(session, user, accessTokenExpiresAt, scope, atHash(accessToken))
        : null;
    return { ...grant, accessToken, idToken, sessionCapped: accessTokenExpiresAt === session.maxExpiresAt };
  }

  /** The successor of a refresh token is derived, so a retry can be given the same one back. */
  private successorOf(refreshToken: string): string {
    return 'lrt_' + this.secrets.hmac(this.successorKeyPurpose, refreshToken);
  }

  /** Issues tokens for a legacy (token-on-URL) login: no code step, same session rules. */
  async issueForLegacyLogin(grant: Omit<CodeGrant, 'codeChallenge' | 'redirectUrl' | 'surface'>): Promise<IssuedTokens> {
    return this.sign(await this.startSession(this.storage, randomToken('ses_'), { ...grant, surface: 'legacy' }, Date.now()));
  }

  /** Re-issues an access token for a live legacy session (legacy refresh presents the token itself). */
  async reissueAccessToken(claims: AccessTokenClaims): Promise<IssuedTokens> {
    const session = await this.requireLiveSession(claims.sid);
    const now = Date.now();
    if (now >= session.maxExpiresAt) throw new SessionLifetimeExceededError();
    // No refresh token in the legacy contract: nothing is stored, only a new access token signed.
    return this.sign(await this.prepare(this.storage, session, '', now, false));
  }

  /**
   * The one gate for every endpoint that accepts an access token. Verifies signature, issuer,
   * expiry and type (ES256 `at+jwt`), then that the token was issued for `endpoint`
   * (`token-scope.ts`: surface, account, client, the account's SSO mode), that its session is
   * live and its user enabled.
   *
   * @param endpoint which group of endpoints is asking (`desktop`, `legacy-refresh`, `oidc`)
   * @param expect the account (URL or Basic credentials) and/or OAuth client it must belong to
   * @throws InvalidTokenError (code 20151, HTTP 401) with a message naming the mismatch
   */
  async verifyAccessTokenFor(
    endpoint: TokenEndpoint,
    token: string,
    expect: TokenExpectation = {},
  ): Promise<{ claims: AccessTokenClaims; session: Session; account: Account }> {
    const claims = await this.accessTokens.verify(token);
    if (expect.accountSid !== undefined && claims.aud !== expect.accountSid) throw new InvalidTokenError('The token was issued for another account.');
    // Session and user in one read: the token names both.
    const [sessionRecord, userRecord] = await this.storage.findMany([
      { kind: SESSION, id: claims.sid },
      { kind: USER, id: claims.sub },
    ]);
    const session = sessionRecord?.payload as Session | undefined;
    if (!session || session.revokedAt !== null) throw new InvalidTokenError('The session of this token has been revoked.');
    const account = expect.account?.sid === session.accountSid ? expect.account : await this.accounts.findAccount(session.accountSid);
    if (!account) throw new InvalidTokenError('The account of this token no longer exists.');
    assertIssuedFor(endpoint, session, account, expect, claims);
    const user = userRecord?.payload as User | undefined;
    if (!user || user.disabled) throw new InvalidTokenError('This user has been disabled by an administrator.');
    return { claims, session, account };
  }

  /**
   * Full validation without a surface check: signature and expiry, then the session is live and
   * the user enabled. For administrators' inspection only; endpoints use `verifyAccessTokenFor`.
   */
  async validateAccessToken(token: string, expectedAccountSid?: string): Promise<{ claims: AccessTokenClaims; session: Session }> {
    const claims = await this.accessTokens.verify(token);
    if (expectedAccountSid !== undefined && claims.aud !== expectedAccountSid)
      throw new InvalidTokenError('The token was issued for another account.');
    const session = await this.requireLiveSession(claims.sid);
    const user = await this.users.find(claims.sub);
    if (!user || user.disabled) throw new InvalidTokenError('This user has been disabled by an administrator.');
    return { claims, session };
  }

  /**
   * RP-initiated logout: ends the session named by a verified ID token hint, if that session was
   * issued on the standard surface to the hint's client. Anything else is refused.
   */
  async endSessionForIdToken(hint: { sid: string; aud: string }): Promise<void> {
    const session = (await this.storage.find<Session>(SESSION, hint.sid))?.payload;
    if (!session || session.revokedAt !== null) return;
    const account = await this.accounts.findAccount(session.accountSid);
    if (!account) return;
    assertIssuedFor('oidc', session, account, { clientId: hint.aud });
    await this.revokeSession(session.id, 'signed_out');
  }

  private async requireLiveSession(sessionId: string): Promise<Session> {
    const session = (await this.storage.find<Session>(SESSION, sessionId))?.payload;
    if (!session || session.revokedAt !== null) throw new InvalidTokenError('The session of this token has been revoked.');
    return session;
  }

  async revokeSession(sessionId: string, reason: string): Promise<void> {
    await this.storage.transaction((tx) => this.revokeWith(tx, sessionId, reason, Date.now()));
  }

  /** Revokes a session inside `tx`; true when this call revoked it, false when it already was. */
  private async revokeWith(tx: Storage, sessionId: string, reason: string, now: number): Promise<boolean> {
    const existing = await tx.find<Session>(SESSION, sessionId, { forUpdate: true });
    if (existing) {
      if (existing.payload.revokedAt !== null) return false;
      await tx.upsert({ ...existing, payload: { ...existing.payload, revokedAt: now, revokedReason: reason } });
      return true;
    }
    // A tombstone: the session a replayed code would have created can never be created now.
    return tx.insert({
      kind: SESSION,
      id: sessionId,
      payload: { id: sessionId, revokedAt: now, revokedReason: reason },
      expiresAt: now + REUSE_MEMORY_MS,
    });
  }

  /** RFC 7009: revoking a refresh token ends its whole session. Unknown tokens are not an error. */
  async revokeRefreshToken(refreshToken: string, clientId?: string): Promise<void> {
    const record = await this.storage.find<RefreshTokenRecord>(REFRESH, sha256(refreshToken));
    if (!record) return;
    const session = (await this.storage.find<Session>(SESSION, record.payload.sessionId))?.payload;
    if (!session || session.surface === 'legacy' || (clientId !== undefined && session.clientId !== clientId)) return;
    await this.revokeSession(record.payload.sessionId, 'revoked_by_client');
  }

  /**
   * Ends every live session of a user; the number ended. `accountSid`: the user's account, for a
   * user already removed (merged away), whose record no longer says it.
   * @throws NotFoundError for an unknown user when `accountSid` is not given.
   */
  async revokeAllForUser(userSid: string, accountSid?: string): Promise<number> {
    const sessions = await this.storage.list<Session>(SESSION, { accountSid: accountSid ?? (await this.users.get(userSid)).accountSid });
    const mine = sessions.filter((s) => s.payload.userSid === userSid && s.payload.revokedAt === null);
    for (const s of mine) await this.revokeSession(s.id, 'revoked_by_admin');
    return mine.length;
  }

  async revokeAllForAccount(accountSid: string): Promise<number> {
    const sessions = await this.storage.list<Session>(SESSION, { accountSid });
    const live = sessions.filter((s) => s.payload.revokedAt === null);
    for (const s of live) await this.revokeSession(s.id, 'revoked_by_admin');
    return live.length;
  }
}

type PreparedGrant = Omit<IssuedTokens, 'accessToken' | 'idToken' | 'sessionCapped'>;

/** Whose session a replay event names (ReplayEvent). */
const whose = (of: Pick<Session, 'surface' | 'accountSid' | 'connectionSid' | 'userSid'>) => ({
  surface: of.surface,
  accountSid: of.accountSid,
  connectionSid: of.connectionSid,
  userSid: of.userSid,
});

/** A presented refresh token's record with its session, once checked (TokenService.checkPresented). */
interface PresentedToken {
  token: RefreshTokenRecord;
  session: Session;
}

/**
 * SPEC "Enhanced SSO" step 5: once the access token a refresh token came with already ended at
 * the session cap, a refresh cannot move the expiry. The real Flex UI discards such an answer by
 * design and presents the same refresh token again 15-20 s later, outside the grace window:
 * rotating would revoke the session minutes before the shift ends and record a false reuse
 * attack. So the token is not rotated: a new access token (ending at the cap) comes back with the
 * same refresh token, which stays usable until the cap. Thrown inside the rotation's transaction
 * so that the token's consumption rolls back (the common path spends nothing for it); carries
 * the grant to sign.
 */
class TokenKeptAtCap {
  constructor(readonly grant: PreparedGrant) {}
}

/** OIDC Core §3.1.3.6: left half of SHA-256 of the access token. */
function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}
