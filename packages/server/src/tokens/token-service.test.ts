import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from '../../../../test/support/backends.ts';
import { createTokenCore, mintCode as mintSharedCode, type TokenCore } from '../../../../test/support/token-core.ts';
import { sha256 } from '../crypto/random.ts';
import type { GrantEvent, ReplayEvent } from './grant-events.ts';
import type { CodeGrant } from './model.ts';
import { RateLimitedError } from '../errors.ts';
import { TokenService, type RefreshBudget, type RefreshRequest } from './token-service.ts';

const REDIRECT = 'https://desktop.example.test/';

describe.each(BACKENDS)('TokenService on %s', (backend) => {
  const cores: TokenCore[] = [];
  const core = async (overrides: Parameters<typeof createTokenCore>[1] = {}) => {
    const created = await createTokenCore(backend, overrides);
    cores.push(created);
    return created;
  };
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cores.splice(0)) await c.close();
  });

  /** A code as the broker mints it at the end of a sign-in, and the verifier that spends it. */
  async function mintCode(c: TokenCore, grant: Partial<CodeGrant> = {}) {
    const { code, verifier } = await mintSharedCode(c, { redirectUrl: REDIRECT, nonce: 'nonce-1', ...grant });
    const exchange = (extra: { codeVerifier?: string; surface?: CodeGrant['surface']; connectionSid?: string; nonce?: string } = {}) =>
      c.tokens.exchangeCode({
        code,
        codeVerifier: verifier,
        surface: grant.surface ?? 'flex',
        connectionSid: c.connection.sid,
        nonce: 'nonce-1',
        ...extra,
      });
    return { code, verifier, exchange };
  }

  /** Merges the core's user into a newly provisioned one: the original user no longer exists. */
  async function mergeIntoAnotherUser(c: TokenCore) {
    const into = await c.users.provision(c.account.sid, {
      uniqueId: 'ada.l@example.com',
      fullName: 'Ada L',
      email: 'ada.l@example.com',
      roles: ['agent'],
      imageUrl: null,
      attributes: {},
    });
    await c.users.merge(c.user.sid, into.sid, { adoptUniqueId: false });
  }

  it('exchanges a code once for tokens that validate, with claims of the user, account and session', async () => {
    const c = await core();
    const issued = await (await mintCode(c)).exchange();
    expect(issued.refreshToken).toMatch(/^lrt_/);
    expect(issued.idToken).toBeNull(); // the Flex surface has no ID token
    const { claims, session } = await c.tokens.validateAccessToken(issued.accessToken, c.account.sid);
    expect(claims).toMatchObject({ sub: c.user.sid, aud: c.account.sid, sid: issued.session.id, worker_sid: c.user.workerSid, roles: ['agent'] });
    expect(session.revokedAt).toBeNull();
    await expect(c.tokens.validateAccessToken(issued.accessToken, 'AC' + '0'.repeat(32))).rejects.toMatchObject({ code: 20151 });
  });

  it('revokes the session a code created when the code is replayed (RFC 6749 §4.1.2)', async () => {
    const c = await core();
    const { exchange } = await mintCode(c);
    const first = await exchange();
    await expect(exchange()).rejects.toMatchObject({
      code: 45200,
      message: expect.stringMatching(
        /already been used \(a code works once, even when that exchange failed\); any tokens issued for it have been revoked/,
      ),
    });
    await expect(c.tokens.validateAccessToken(first.accessToken)).rejects.toMatchObject({ code: 20151, message: expect.stringMatching(/revoked/) });
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken })).rejects.toMatchObject({ code: 45200 });
  });

  it('announces a replayed code or reused refresh token once per revocation, however often it comes back', async () => {
    const c = await core({ refreshGraceSeconds: 0 });
    const replays: ReplayEvent[] = [];
    c.tokens.events.on('replay', (event) => replays.push(event));
    const { exchange } = await mintCode(c);
    const first = await exchange();
    // Replayed again and again, with or without its verifier: one revocation, one announcement.
    for (const extra of [{}, {}, { codeVerifier: 'x' }]) await expect(exchange(extra)).rejects.toMatchObject({ code: 45200 });
    expect(replays.map((r) => [r.type, r.sessionId])).toEqual([['code.replayed', first.session.id]]);
    // Reused at once by several: one of them revokes.
    const second = await (await mintCode(c)).exchange();
    await c.tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken });
    await Promise.allSettled(Array.from({ length: 4 }, () => c.tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken })));
    expect(replays.map((r) => [r.type, r.sessionId])).toEqual([
      ['code.replayed', first.session.id],
      ['token.refresh_reuse', second.session.id],
    ]);
  });

  it('spends a code refused for a wrong PKCE verifier, so the right verifier cannot use it afterwards', async () => {
    const c = await core();
    const { exchange } = await mintCode(c);
    await expect(exchange({ codeVerifier: randomBytes(32).toString('base64url') })).rejects.toMatchObject({
      code: 45200,
      message: 'The PKCE code_verifier does not match the code challenge.',
    });
    await expect(exchange()).rejects.toMatchObject({ code: 45200, message: expect.stringMatching(/already been used/) });
  });

  it('binds a code to the surface, connection and nonce it was issued for', async () => {
    const c = await core();
    await expect((await mintCode(c)).exchange({ surface: 'oidc' })).rejects.toThrow('The authorization code was not issued to this endpoint.');
    await expect((await mintCode(c)).exchange({ connectionSid: 'JQ' + '0'.repeat(32) })).rejects.toThrow(/issued for another connection/);
    await expect((await mintCode(c)).exchange({ nonce: 'another' })).rejects.toThrow(/nonce does not match/);
    // The Flex contract sends the nonce again; leaving it out is refused there, not on the OIDC surface.
    await expect((await mintCode(c)).exchange({ nonce: undefined })).rejects.toThrow(/nonce is missing/);
    await expect((await mintCode(c, { nonce: null })).exchange({ nonce: undefined })).resolves.toMatchObject({ refreshToken: expect.any(String) });
    await expect((await mintCode(c, { surface: 'oidc', scope: 'openid' })).exchange({ nonce: undefined })).resolves.toMatchObject({
      idToken: expect.any(String),
    });
    await expect(c.tokens.exchangeCode({ code: 'never-issued', codeVerifier: 'x'.repeat(43), surface: 'flex' })).rejects.toThrow(
      /invalid or has expired/,
    );
  });

  it('issues an ID token only on the OIDC surface with the openid scope', async () => {
    const c = await core();
    const oidc = await (await mintCode(c, { surface: 'oidc', scope: 'openid profile' })).exchange();
    expect(decodeJwt(oidc.idToken!)).toMatchObject({ aud: c.connection.clientId, sub: c.user.sid, nonce: 'nonce-1' });
    expect((await (await mintCode(c, { surface: 'oidc', scope: 'profile' })).exchange()).idToken).toBeNull();
  });

  it('rotates refresh tokens, and answers a retry within the grace window with the same successor', async () => {
    const c = await core({ refreshGraceSeconds: 10 });
    const first = await (await mintCode(c)).exchange();
    const second = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken, connectionSid: c.connection.sid });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.session.id).toBe(first.session.id);
    // A lost response or a second tab: the spent token, presented again at once, gets the same successor.
    const retried = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    expect(retried.refreshToken).toBe(second.refreshToken);
    const third = await c.tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken });
    expect(third.refreshToken).not.toBe(second.refreshToken);
    await expect(c.tokens.validateAccessToken(third.accessToken)).resolves.toBeDefined();
  });

  it('rotates a refresh token presented several times at once exactly once: every request gets the same successor', async () => {
    const c = await core({ refreshGraceSeconds: 10 });
    const first = await (await mintCode(c)).exchange();
    // Read live by all of them; one spends it, the others lose the race and take the grace path.
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken, connectionSid: c.connection.sid })),
    );
    expect(new Set(answers.map((a) => a.refreshToken)).size).toBe(1);
    expect(answers[0]!.refreshToken).not.toBe(first.refreshToken);
    // One successor stored, unspent, and the family alive.
    const successor = await c.storage.find('refresh_token', sha256(answers[0]!.refreshToken));
    expect(successor?.consumedAt).toBeNull();
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: answers[0]!.refreshToken })).resolves.toBeDefined();
  });

  it('with a grace window of 0, a token presented twice at once rotates once and the other presentation revokes the family', async () => {
    const c = await core({ refreshGraceSeconds: 0 });
    const first = await (await mintCode(c)).exchange();
    const outcomes = await Promise.allSettled([0, 1].map(() => c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken })));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 45200, message: expect.stringMatching(/already used/) });
    const issued = outcomes.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof c.tokens.refresh>>>;
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: issued.value.refreshToken })).rejects.toMatchObject({ code: 45200 });
  });

  /**
   * The core's token service over a storage whose first call of `method` waits until `release`
   * (`after`: its answer does): a request held before a step of a rotation, or after one.
   */
  function heldAt(c: TokenCore, method: 'findWithLinked' | 'consumeAndInsert', budget?: RefreshBudget, after = false) {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    let armed = true;
    const storage = new Proxy(c.storage, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (name !== method) return value.bind(target);
        return async (...args: unknown[]) => {
          const hold = armed;
          armed = false;
          const answer = after ? await (value as (...a: unknown[]) => unknown).apply(target, args) : undefined;
          if (hold) {
            reached();
            await held;
          }
          return after ? answer : (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const tokens = new TokenService(storage, c.config, c.secrets, c.accessTokens, c.accounts, c.users, budget);
    return { tokens, arrived, release };
  }

  it('with a grace window of 0, refuses a presentation that began before another spent the token and revokes the family', async () => {
    const c = await core({ refreshGraceSeconds: 0 });
    const first = await (await mintCode(c)).exchange();
    const slow = heldAt(c, 'findWithLinked');
    const late = slow.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken }).catch((error: Error) => error);
    await slow.arrived;
    // Its clock reading is older than the spend below.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const won = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    slow.release();
    expect(await late).toMatchObject({ code: 45200, message: expect.stringMatching(/already used/) });
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: won.refreshToken })).rejects.toMatchObject({ code: 45200 });
  });

  it('counts the grace window from the spend, not from the start of the request that spent the token', async () => {
    const c = await core({ refreshGraceSeconds: 1 });
    const first = await (await mintCode(c)).exchange();
    // The winner is held 1.5 s between reading the token and spending it.
    const slow = heldAt(c, 'findWithLinked', undefined, true);
    const winner = slow.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    await slow.arrived;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    slow.release();
    const won = await winner;
    // A retry right after the spend is within the 1 s window: the same successor, nothing revoked.
    const retried = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    expect(retried.refreshToken).toBe(won.refreshToken);
    expect((await c.storage.find<{ revokedAt: number | null }>('session', first.session.id))?.payload.revokedAt).toBeNull();
  });

  it('charges a presentation that loses the race to spend its token once against the family budget', async () => {
    const c = await core({ refreshGraceSeconds: 10 });
    const first = await (await mintCode(c)).exchange();
    const charged: string[] = [];
    const budget: RefreshBudget = { take: (_budget, key) => void charged.push(key) };
    // Held after its checks (charged), then it finds the token spent and goes to the transaction.
    const slow = heldAt(c, 'consumeAndInsert', budget);
    const loser = slow.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    await slow.arrived;
    const won = await new TokenService(c.storage, c.config, c.secrets, c.accessTokens, c.accounts, c.users, budget).refresh({
      surface: 'flex',
      refreshToken: first.refreshToken,
    });
    slow.release();
    expect((await loser).refreshToken).toBe(won.refreshToken);
    expect(charged).toEqual([first.session.id, first.session.id]);
  });

  it('revokes the whole family when a spent refresh token comes back after the grace window (RFC 9700 §4.14.2)', async () => {
    const c = await core({ refreshGraceSeconds: 10 });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const replays: ReplayEvent[] = [];
    c.tokens.events.on('replay', (event) => replays.push(event));
    const first = await (await mintCode(c)).exchange();
    const second = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    // Within the grace window: a retry, not a replay.
    await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    expect(replays).toEqual([]);
    vi.setSystemTime(start + 10_000);
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken })).rejects.toMatchObject({
      code: 45200,
      message: expect.stringMatching(/already used; the session has been revoked/),
    });
    // Announced once, after the revocation, naming whose session it was (operations/replay-audit.ts).
    expect(replays).toEqual([
      {
        type: 'token.refresh_reuse',
        sessionId: first.session.id,
        surface: 'flex',
        accountSid: c.account.sid,
        connectionSid: c.connection.sid,
        userSid: first.session.userSid,
      },
    ]);
    // The thief's copy and the rightful holder's are both dead: the holder signs in again.
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken })).rejects.toMatchObject({
      code: 45200,
      message: expect.stringMatching(/session of this refresh token has been revoked/),
    });
    await expect(c.tokens.validateAccessToken(second.accessToken)).rejects.toMatchObject({ code: 20151 });
  });

  it('with a grace window of 0, revokes on the first reuse', async () => {
    const c = await core({ refreshGraceSeconds: 0 });
    const first = await (await mintCode(c)).exchange();
    const second = await c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken })).rejects.toMatchObject({ code: 45200 });
    await expect(c.tokens.validateAccessToken(second.accessToken)).rejects.toMatchObject({ code: 20151 });
  });

  it('refuses a refresh token at another connection or client, without revoking it', async () => {
    const c = await core();
    const first = await (await mintCode(c)).exchange();
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken, connectionSid: 'JQ' + '1'.repeat(32) })).rejects.toThrow(
      /another connection/,
    );
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken, clientId: 'someone-else' })).rejects.toThrow(/another client/);
  });

  it('rotates a refresh token stored before tokens named their user, and its successor names the user', async () => {
    const c = await core();
    const issued = await (await mintCode(c)).exchange();
    const stored = await c.storage.find<{ sessionId: string; userSid?: string }>('refresh_token', sha256(issued.refreshToken));
    expect(stored!.payload.userSid).toBe(c.user.sid);
    const { userSid: _dropped, ...older } = stored!.payload;
    await c.storage.upsert({ ...stored!, payload: older });
    const next = await c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
    expect(decodeJwt(next.accessToken)).toMatchObject({ sub: c.user.sid, roles: ['agent'] });
    expect((await c.storage.find<{ userSid?: string }>('refresh_token', sha256(next.refreshToken)))!.payload.userSid).toBe(c.user.sid);
  });

  it('refuses a refresh with invalid_grant once its user was merged into another, without spending the token', async () => {
    const c = await core();
    const issued = await (await mintCode(c)).exchange();
    await mergeIntoAnotherUser(c);
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken })).rejects.toMatchObject({
      status: 400,
      code: 45200,
      message: 'The user of this session no longer exists; sign in again.',
    });
    expect((await c.storage.find('refresh_token', sha256(issued.refreshToken)))!.consumedAt).toBeNull();
  });

  it('cuts expiries to the end of the shift and refuses refresh after it (45210)', async () => {
    // A 10-minute shift, shorter than the access and refresh lifetimes.
    const c = await core({ sessionMaxLifetimeSeconds: 600, accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 7200 });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    // Signed in at the IdP 50 minutes ago: the shift still starts when the session does, so an IdP
    // session hours old does not cut it short (auth_time is for max_age, not for the cap).
    const authTime = start - 50 * 60_000;
    const issued = await (await mintCode(c, { authTime })).exchange();
    expect(issued.session.maxExpiresAt).toBe(start + 600_000);
    expect(issued.accessTokenExpiresAt).toBe(issued.session.maxExpiresAt);
    expect(issued.refreshTokenExpiresAt).toBe(issued.session.maxExpiresAt);
    expect(issued.sessionCapped).toBe(true);
    vi.setSystemTime(issued.session.maxExpiresAt);
    await expect(c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken })).rejects.toMatchObject({ code: 45210 });
  });

  it('announces every grant, issued or refused, as a typed event carrying no token', async () => {
    const c = await core();
    const events: GrantEvent[] = [];
    c.tokens.events.on('grant', (event) => events.push(event));
    const { exchange } = await mintCode(c);
    const issued = await exchange();
    await c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
    await exchange().catch(() => undefined); // a replay: refused, and it revokes the session
    await c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken }).catch(() => undefined);
    expect(events).toEqual([
      { grant: 'authorization_code', issued: true, code: null },
      { grant: 'refresh_token', issued: true, code: null },
      { grant: 'authorization_code', issued: false, code: 45200 },
      { grant: 'refresh_token', issued: false, code: 45200 },
    ]);
  });

  /** `c.tokens`' own twin over a storage that counts the calls of each method (the storage itself answers). */
  function counting(c: TokenCore, budget?: RefreshBudget) {
    const calls = new Map<string, number>();
    const storage = new Proxy(c.storage, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { tokens: new TokenService(storage, c.config, c.secrets, c.accessTokens, c.accounts, c.users, budget), calls };
  }

  it('spends a token it issued in one storage step, and refuses it without spending it while its user is disabled or its session revoked', async () => {
    const c = await core();
    const { tokens, calls } = counting(c);
    const issue = async () => {
      const { code, verifier } = await mintSharedCode(c, { redirectUrl: REDIRECT, nonce: 'nonce-1' });
      return tokens.exchangeCode({ code, codeVerifier: verifier, surface: 'flex', connectionSid: c.connection.sid, nonce: 'nonce-1' });
    };
    const first = await issue();
    calls.clear();
    const second = await tokens.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    // Issued here: the session is known, nothing is read before the spend.
    expect(Object.fromEntries(calls)).toEqual({ consumeAndInsertIf: 1 });
    expect(decodeJwt(second.accessToken)).toMatchObject({ sub: c.user.sid, sid: first.session.id, roles: ['agent'] });
    expect((await c.storage.find('refresh_token', sha256(first.refreshToken)))!.consumedAt).not.toBeNull();
    expect(await c.storage.find('refresh_token', sha256(second.refreshToken))).toMatchObject({ consumedAt: null, family: first.session.id });

    // The user disabled since: refused as before, the token unspent; enabled again, it rotates.
    await c.users.setDisabled(c.user.sid, true);
    await expect(tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken })).rejects.toMatchObject({
      status: 400,
      code: 45200,
      message: 'This user has been disabled by an administrator.',
    });
    expect((await c.storage.find('refresh_token', sha256(second.refreshToken)))!.consumedAt).toBeNull();
    await c.users.setDisabled(c.user.sid, false);
    const third = await tokens.refresh({ surface: 'flex', refreshToken: second.refreshToken });
    // Revoked: refused, and the refusal names the revocation.
    const other = await issue();
    await c.tokens.revokeSession(other.session.id, 'test');
    await expect(tokens.refresh({ surface: 'flex', refreshToken: other.refreshToken })).rejects.toThrow(
      /session of this refresh token has been revoked/,
    );
    // Merged into another user meanwhile: refused, the token unspent.
    await mergeIntoAnotherUser(c);
    await expect(tokens.refresh({ surface: 'flex', refreshToken: third.refreshToken })).rejects.toMatchObject({
      message: 'The user of this session no longer exists; sign in again.',
    });
    expect((await c.storage.find('refresh_token', sha256(third.refreshToken)))!.consumedAt).toBeNull();
  });

  it("gives a token it issued the refusal a node that never saw it gives: a revoked session before the request's other faults, the budget charged once", async () => {
    const c = await core();
    const other = counting(c);
    const wrong: Array<Partial<RefreshRequest>> = [
      {},
      { connectionSid: 'JQ' + '1'.repeat(32) },
      { clientId: 'someone-else' },
      { surface: 'oidc' },
      { scope: 'openid email' },
    ];
    for (const [i, extra] of wrong.entries()) {
      for (const revoked of [true, false]) {
        const remembered = await (await mintCode(c)).exchange();
        const unknown = await (await mintCode(c)).exchange();
        if (revoked) for (const issued of [remembered, unknown]) await c.tokens.revokeSession(issued.session.id, 'test');
        const answer = (tokens: TokenService, refreshToken: string) =>
          tokens.refresh({ surface: 'flex', refreshToken, ...extra }).then(
            () => 'issued',
            (error: { code?: number; message: string }) => `${error.code}: ${error.message}`,
          );
        expect(await answer(c.tokens, remembered.refreshToken), `request ${i}, revoked ${revoked}`).toBe(
          await answer(other.tokens, unknown.refreshToken),
        );
      }
    }
    // An exhausted budget: refused at either node, and refused for the revocation once revoked.
    const charged: string[] = [];
    let left = 1;
    const budget: RefreshBudget = {
      take: (_budget, key) => {
        if (left-- <= 0) throw new RateLimitedError(60);
        charged.push(key);
      },
    };
    const limited = new TokenService(c.storage, c.config, c.secrets, c.accessTokens, c.accounts, c.users, budget);
    const code = await mintSharedCode(c, { redirectUrl: REDIRECT, nonce: 'nonce-1' });
    const first = await limited.exchangeCode({
      code: code.code,
      codeVerifier: code.verifier,
      surface: 'flex',
      connectionSid: c.connection.sid,
      nonce: 'nonce-1',
    });
    const second = await limited.refresh({ surface: 'flex', refreshToken: first.refreshToken });
    expect(charged).toEqual([first.session.id]);
    await expect(limited.refresh({ surface: 'flex', refreshToken: second.refreshToken })).rejects.toMatchObject({ status: 429 });
    await c.tokens.revokeSession(first.session.id, 'test');
    await expect(limited.refresh({ surface: 'flex', refreshToken: second.refreshToken })).rejects.toThrow(
      /session of this refresh token has been revoked/,
    );
  });

  it('decides a token it issued but another node spent as a spent token: the same successor within the grace window, else the family revoked', async () => {
    for (const refreshGraceSeconds of [10, 0]) {
      const c = await core({ refreshGraceSeconds });
      // Another node: the same database, a memory of its own.
      const elsewhere = counting(c);
      // c.tokens issued it and remembers it; the other node spends it first.
      const issued = await (await mintCode(c)).exchange();
      const there = await elsewhere.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
      const here = c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
      if (refreshGraceSeconds > 0) {
        expect((await here).refreshToken).toBe(there.refreshToken);
      } else {
        await expect(here).rejects.toThrow(/already used; the session has been revoked/);
        expect((await c.storage.find('session', issued.session.id))!.payload).toMatchObject({ revokedReason: 'refresh_token_reuse' });
      }
    }
  });

  it('charges a token it issued once when its one storage step spends nothing: spent at another node, or its user disabled', async () => {
    const c = await core({ refreshGraceSeconds: 10 });
    const charged: string[] = [];
    const here = counting(c, { take: (_budget, key) => void charged.push(key) });
    const issue = async () => {
      const { code, verifier } = await mintSharedCode(c, { redirectUrl: REDIRECT, nonce: 'nonce-1' });
      return here.tokens.exchangeCode({ code, codeVerifier: verifier, surface: 'flex', connectionSid: c.connection.sid, nonce: 'nonce-1' });
    };
    // Spent at another node first: this node's step spends nothing, the read finds it spent in grace.
    const issued = await issue();
    const there = await c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
    here.calls.clear();
    expect((await here.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken })).refreshToken).toBe(there.refreshToken);
    expect(here.calls.get('consumeAndInsertIf')).toBe(1);
    expect(charged).toEqual([issued.session.id]);
    // The user disabled: the step's condition fails, the read refuses it; charged once all the same.
    charged.length = 0;
    const other = await issue();
    await c.users.setDisabled(c.user.sid, true);
    await expect(here.tokens.refresh({ surface: 'flex', refreshToken: other.refreshToken })).rejects.toMatchObject({ code: 45200 });
    expect(charged).toEqual([other.session.id]);
  });

  it('renews a token it issued at the session cap without rotating it, as a node that never saw it does', async () => {
    // A 10-minute shift: the first access token already ends at the cap.
    const c = await core({ sessionMaxLifetimeSeconds: 600, accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 7200 });
    const issued = await (await mintCode(c)).exchange();
    expect(issued.sessionCapped).toBe(true);
    const renewed = await c.tokens.refresh({ surface: 'flex', refreshToken: issued.refreshToken });
    expect(renewed.refreshToken).toBe(issued.refreshToken);
    expect(renewed.accessTokenExpiresAt).toBe(issued.session.maxExpiresAt);
    expect((await c.storage.find('refresh_token', sha256(issued.refreshToken)))!.consumedAt).toBeNull();
  });

  it('ends every live session of a user when an administrator revokes them', async () => {
    const c = await core();
    const a = await (await mintCode(c)).exchange();
    const b = await (await mintCode(c)).exchange();
    expect(await c.tokens.revokeAllForUser(c.user.sid)).toBe(2);
    for (const issued of [a, b]) await expect(c.tokens.validateAccessToken(issued.accessToken)).rejects.toMatchObject({ code: 20151 });
    expect(await c.tokens.revokeAllForUser(c.user.sid)).toBe(0);
  });
});
