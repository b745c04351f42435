import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import Database from 'better-sqlite3';
import { BACKENDS, createTestDatabase } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, pkcePair, postForm, postJson } from '../support/flows.ts';
import { createEnterpriseIdp, type EnterpriseIdp, type UserClaims } from '../support/samlify-idp.ts';
import { cliSandbox, expectBadInput } from '../support/cli.ts';
import { openStorage } from '../../packages/server/src/storage/open.ts';
import { UserService } from '../../packages/server/src/users/user-service.ts';
import { StorageUnavailableError } from '../../packages/server/src/errors.ts';

/**
 * Who is who (issue 14): transient NameIDs, e-mail NameIDs in another letter case, the unique id
 * taken from an attribute, and an administrator repairing duplicates through the admin API.
 */
describe.each(BACKENDS)('unique ids on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: EnterpriseIdp;
  let adminKey: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend, { rateLimitLoginPerMinute: 10_000 });
    idp = createEnterpriseIdp({ credentials: await generateSigningCredentials('Who IdP') });
    adminKey = (await lanyard.services.adminKeys.create('who-is-who test')).secret;
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { message?: string; unique_id?: unknown; [field: string]: unknown } };
  };

  async function account() {
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Who');
    const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
    await accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(account.sid, DESKTOP_URL);
    const metadata = await (await fetch(`${lanyard.url}/login/metadata?connection=${connection.sid}`)).text();
    return { accountSid: account.sid, connectionSid: connection.sid, metadata };
  }

  /** One whole Flex sign-in in which the IdP sends `user`; the user SID signed in, or the refusal. */
  async function signIn(ctx: { connectionSid: string; metadata: string }, user: UserClaims) {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/v1/Flex/Authorize', lanyard.url);
    for (const [k, v] of Object.entries({
      ssoProfileSid: ctx.connectionSid,
      redirectUrl: DESKTOP_URL,
      state: 's',
      nonce: 'n',
      codeChallenge: challenge,
    }))
      url.searchParams.set(k, v);
    const start = await fetch(url, { redirect: 'manual' });
    const request = await idp.readRequest(ctx.metadata, { url: start.headers.get('location')! });
    const acs = await postForm(request.acsUrl, await idp.respond(ctx.metadata, request, user));
    const back = new URL(acs.headers.get('location')!);
    const code = back.searchParams.get('code');
    if (!code) return { userSid: null, nameId: null, reason: back.searchParams.get('error_description') ?? '', refreshToken: null };
    const tokens = await postJson(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      grant_type: 'AuthorizationCode',
      sso_profile_sid: ctx.connectionSid,
      code,
      code_verifier: verifier,
      nonce: 'n',
    });
    const info = tokens.body.token_info as { flex_user_sid: string; name_id: string };
    return { userSid: info.flex_user_sid, nameId: info.name_id, reason: '', refreshToken: tokens.body.refresh_token as string };
  }

  const refresh = (connectionSid: string, refreshToken: string) =>
    postJson(`${lanyard.url}/v1/Flex/OAuth/Tokens`, { grant_type: 'RefreshToken', sso_profile_sid: connectionSid, refresh_token: refreshToken });

  const ada = (nameId: string, extra: Partial<UserClaims> = {}): UserClaims => ({
    nameId,
    email: 'ada@example.com',
    fullName: 'Ada Lovelace',
    roles: ['agent'],
    ...extra,
  });

  it('refuses a transient NameID and says what to set at the IdP, or takes the id from the named attribute', async () => {
    const ctx = await account();
    const refused = await signIn(ctx, ada('_3f9a1c', { nameIdFormat: 'transient' }));
    expect(refused.userSid).toBeNull();
    expect(refused.reason).toMatch(/transient NameID.*persistent or emailAddress.*--attribute/);
    expect(await lanyard.services.users.list(ctx.accountSid)).toEqual([]);

    expect((await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { attribute: 'email' })).body.unique_id).toEqual({
      attribute: 'email',
      case_insensitive_email: true,
    });
    const first = await signIn(ctx, ada('_3f9a1c', { nameIdFormat: 'transient' }));
    const second = await signIn(ctx, ada('_77be02', { nameIdFormat: 'transient' }));
    expect(first.nameId).toBe('ada@example.com');
    expect(second.userSid).toBe(first.userSid);
  });

  it('matches e-mail NameIDs whatever their letter case, unless the connection says otherwise', async () => {
    const ctx = await account();
    const lower = await signIn(ctx, ada('ada@example.com'));
    const upper = await signIn(ctx, ada('Ada@Example.COM'));
    expect(upper.userSid).toBe(lower.userSid);
    expect(await lanyard.services.users.list(ctx.accountSid)).toHaveLength(1);

    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    const distinct = await signIn(ctx, ada('Ada@Example.COM'));
    expect(distinct.userSid).not.toBe(lower.userSid);
  });

  it('finds a user provisioned in another letter case before the policy existed, keeping their SIDs', async () => {
    const ctx = await account();
    const old = await lanyard.services.users.provision(ctx.accountSid, {
      uniqueId: 'Grace@Example.com',
      fullName: 'Grace Hopper',
      email: 'grace@example.com',
      roles: ['agent'],
      imageUrl: null,
      attributes: {},
    });
    const signedIn = await signIn(ctx, ada('grace@example.com', { email: 'grace@example.com', fullName: 'Grace Hopper' }));
    expect(signedIn.userSid).toBe(old.sid);
    expect((await lanyard.services.users.get(old.sid)).workerSid).toBe(old.workerSid);
  });

  it('keeps ids that are not e-mail addresses case-sensitive: two that differ only in letter case are two users', async () => {
    const ctx = await account();
    // An e-mail id with capitals in the account first: from then on a first sign-in looks for
    // users under another letter case, and must still not fold an id that is not an e-mail.
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    await signIn(ctx, ada('Ada@Example.COM'));
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: true });
    const first = await signIn(ctx, ada('00uAbC9Xq-persistent'));
    const second = await signIn(ctx, ada('00uabc9xq-persistent'));
    expect(first.userSid).toMatch(/^FU/);
    expect(second.userSid).not.toBe(first.userSid);
    expect((await lanyard.services.users.get(first.userSid!)).uniqueId).toBe('00uAbC9Xq-persistent');
  });

  it('relinks to an e-mail id as sign-ins send it, and refuses one another user holds in another letter case', async () => {
    const ctx = await account();
    const first = await signIn(ctx, ada('a7c1-persistent'));
    const bob = await signIn(ctx, ada('bob@example.com'));
    const clash = await admin('PUT', `/users/${first.userSid}/unique-id`, { unique_id: 'BOB@Example.com' });
    expect(clash.status).toBe(409);
    expect(clash.body.message).toContain(`User ${bob.userSid} already has the unique id "bob@example.com"`);
    const relinked = await admin('PUT', `/users/${first.userSid}/unique-id`, { unique_id: 'Ada.L@Example.com' });
    expect(relinked.body.unique_id).toBe('ada.l@example.com');
    expect((await signIn(ctx, ada('Ada.L@Example.com'))).userSid).toBe(first.userSid);

    // A holder stored with capitals (from a case-sensitive period) is refused as well.
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    const carol = await signIn(ctx, ada('Carol@Example.com'));
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: true });
    const shadowing = await admin('PUT', `/users/${first.userSid}/unique-id`, { unique_id: 'CAROL@example.com' });
    expect(shadowing.status).toBe(409);
    expect(shadowing.body.message).toContain(`User ${carol.userSid} already has the unique id "Carol@Example.com" (sign-ins match e-mail ids`);
    expect((await signIn(ctx, ada('Carol@Example.com'))).userSid).toBe(carol.userSid);
  });

  it('refuses a relink to an id no IdP sends with a 400 naming the problem', async () => {
    const ctx = await account();
    const first = await signIn(ctx, ada('a7c1-persistent'));
    const refusals: Array<[string, RegExp]> = [
      ['a\u0000b@example.com', /^unique_id: holds a NUL character \(U\+0000\)/],
      ['a\u0001b@example.com', /control characters/],
      ['a\ud800@example.com', /^unique_id: holds an unpaired UTF-16 surrogate/],
      ['中'.repeat(700), /2,000 bytes/],
      [' ada@example.com', /spaces/],
    ];
    for (const [uniqueId, message] of refusals) {
      const refused = await admin('PUT', `/users/${first.userSid}/unique-id`, { unique_id: uniqueId });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(message);
    }
  });

  it('finds a user relinked under a case-sensitive connection once the connection ignores letter case again', async () => {
    const ctx = await account();
    const first = await signIn(ctx, ada('a7c1-persistent'));
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    expect((await admin('PUT', `/users/${first.userSid}/unique-id`, { unique_id: 'Ada.L@Example.com' })).body.unique_id).toBe('Ada.L@Example.com');
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: true });
    expect((await signIn(ctx, ada('ada.l@example.com'))).userSid).toBe(first.userSid);
    expect(await lanyard.services.users.list(ctx.accountSid)).toHaveLength(1);
  });

  it("answers a merge that landed with 200 and audits it, even when marking the duplicate's sessions ended then fails", async () => {
    const ctx = await account();
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    const keep = await signIn(ctx, ada('grace@example.com'));
    const duplicate = await signIn(ctx, ada('GRACE@example.com'));
    const { tokens } = lanyard.services;
    const revokeAllForUser = tokens.revokeAllForUser;
    tokens.revokeAllForUser = async () => {
      throw new StorageUnavailableError('a fault injected by the test');
    };
    try {
      const merged = await admin('POST', `/users/${duplicate.userSid}/merge`, { into: keep.userSid });
      expect(merged).toMatchObject({ status: 200, body: { merged_user_sid: duplicate.userSid, revoked_sessions: 0 } });
    } finally {
      tokens.revokeAllForUser = revokeAllForUser;
    }
    const audit = await admin('GET', `/accounts/${ctx.accountSid}/audit`);
    const reasons = (audit.body.events as Array<{ reason: string }>).map((e) => e.reason).join('\n');
    expect(reasons).toContain(`merged user ${duplicate.userSid}`);
    expect(reasons).toMatch(
      /its sessions could not be marked ended \(The database is unavailable: a fault injected by the test\), and stopped working with the user/,
    );
    // They did: the duplicate's refresh token is refused.
    expect((await refresh(ctx.connectionSid, duplicate.refreshToken!)).status).toBe(400);
  });

  it('merges a duplicate into the user to keep and relinks a user to a new unique id, through the admin API', async () => {
    const ctx = await account();
    await admin('PUT', `/connections/${ctx.connectionSid}/unique-id`, { case_insensitive_email: false });
    const keep = await signIn(ctx, ada('ada@example.com'));
    const duplicate = await signIn(ctx, ada('ADA@example.com'));
    expect(duplicate.userSid).not.toBe(keep.userSid);

    // A merge refused (the user to keep is in another account) ends none of the duplicate's sessions.
    const elsewhere = await signIn(await account(), ada('ada@example.com'));
    const refused = await admin('POST', `/users/${duplicate.userSid}/merge`, { into: elsewhere.userSid });
    expect(refused).toMatchObject({ status: 400, body: { message: 'Both users must belong to the same account.' } });
    const refreshed = await refresh(ctx.connectionSid, duplicate.refreshToken!);
    expect(refreshed.status).toBe(200);

    const merged = await admin('POST', `/users/${duplicate.userSid}/merge`, { into: keep.userSid });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({
      merged_user_sid: duplicate.userSid,
      revoked_sessions: 1,
      user: { sid: keep.userSid, unique_id: 'ADA@example.com' },
    });
    expect((await refresh(ctx.connectionSid, refreshed.body.refresh_token as string)).status).toBe(400);
    expect((await signIn(ctx, ada('ADA@example.com'))).userSid).toBe(keep.userSid);
    expect((await lanyard.services.users.list(ctx.accountSid)).map((u) => u.sid)).toEqual([keep.userSid]);

    // The IdP moves to persistent ids: relink, and the next sign-in under the new id is the same user.
    const misnamed = await admin('PUT', `/users/${keep.userSid}/unique-id`, { uniqueId: 'a7c1-persistent' });
    expect(misnamed).toMatchObject({
      status: 400,
      body: { message: 'body: unknown field "uniqueId" (did you mean "unique_id"?); send only the documented ones.' },
    });
    const relinked = await admin('PUT', `/users/${keep.userSid}/unique-id`, { unique_id: 'a7c1-persistent' });
    expect(relinked.body.unique_id).toBe('a7c1-persistent');
    expect((await signIn(ctx, ada('a7c1-persistent'))).userSid).toBe(keep.userSid);

    const other = await signIn(ctx, ada('someone-else'));
    const clash = await admin('PUT', `/users/${other.userSid}/unique-id`, { unique_id: 'a7c1-persistent' });
    expect(clash.status).toBe(409);
    expect(clash.body.message).toMatch(/lanyard users merge/);
    expect((await admin('POST', `/users/${keep.userSid}/merge`, { into: keep.userSid })).status).toBe(400);
  });
});

describe('users relink from the CLI', () => {
  it('refuses the ids the admin API refuses, with the same words (exit 2)', async () => {
    const cli = cliSandbox();
    try {
      const storage = await openStorage(cli.env.LANYARD_DATABASE_URL!);
      const user = await new UserService(storage).provision('AC00000000000000000000000000000001', {
        uniqueId: 'ada@example.com',
        fullName: 'Ada',
        email: 'ada@example.com',
        roles: ['agent'],
        imageUrl: null,
        attributes: {},
      });
      await storage.close();
      const refusals: Array<[string, RegExp]> = [
        ['a\u0001b@example.com', /unique_id: must not contain control characters/],
        [' ada@example.com ', /unique_id: must not start or end with spaces/],
        ['é'.repeat(1100), /unique_id: must be at most 2,000 bytes in UTF-8/],
        ['x'.repeat(2001), /unique_id: must be at most 2,000 bytes in UTF-8/],
      ];
      for (const [uniqueId, message] of refusals) expectBadInput(await cli.lanyard('users', 'relink', user.sid, uniqueId), message);
      expect((await cli.json('users', 'relink', user.sid, 'ada.l@example.com')).unique_id).toBe('ada.l@example.com');
    } finally {
      cli.cleanup();
    }
  });
});

describe('users an earlier release stored under an id no backend keeps as a key now', () => {
  it('can still be disabled and relinked (SQLite kept a NUL; both backends kept ids past 2,048 bytes)', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      let storage = await openStorage(db.url);
      const users = () => new UserService(storage);
      const profile = { fullName: 'Old', email: 'old@example.com', roles: ['agent'], imageUrl: null, attributes: {} };
      const nul = await users().provision('AC00000000000000000000000000000002', { ...profile, uniqueId: 'old-nul' });
      const long = await users().provision('AC00000000000000000000000000000002', { ...profile, uniqueId: 'old-long' });
      await storage.close();
      // As the earlier release left them.
      const raw = new Database(db.url.slice('sqlite:'.length));
      for (const [user, uniqueId] of [
        [nul, 'old\u0000nul'],
        [long, 'l'.repeat(2100)],
      ] as const) {
        raw
          .prepare(`UPDATE records SET lookup = ?, payload = ? WHERE kind = 'user' AND id = ?`)
          .run(`${user.accountSid}:${uniqueId}`, JSON.stringify({ ...user, uniqueId }), user.sid);
      }
      raw.close();
      storage = await openStorage(db.url);
      for (const user of [nul, long]) {
        expect((await users().setDisabled(user.sid, true)).disabled).toBe(true);
        expect((await users().get(user.sid)).disabled).toBe(true);
      }
      await users().relink(nul.sid, 'old@example.com');
      expect((await users().provision(nul.accountSid, { ...profile, uniqueId: 'old@example.com' })).sid).toBe(nul.sid);
      await storage.close();
    } finally {
      await db.drop();
    }
  });
});

describe.each(BACKENDS)('users changed by two requests at the same moment on %s', (backend) => {
  const account = 'AC00000000000000000000000000000003';
  const profile = (uniqueId: string) => ({ uniqueId, fullName: 'Ada', email: 'ada@example.com', roles: ['agent'], imageUrl: null, attributes: {} });

  /** `round` five times over one user service on a new database of this backend (a race is tried more than once). */
  async function inRounds(round: (users: UserService, n: number) => Promise<void>): Promise<void> {
    const db = await createTestDatabase(backend);
    const storage = await openStorage(db.url);
    try {
      for (let n = 0; n < 5; n++) await round(new UserService(storage), n);
    } finally {
      await storage.close();
      await db.drop();
    }
  }

  it('answers two relinks to the same unique id with one relinked user and a 409 naming them, never a storage error', async () => {
    await inRounds(async (users, round) => {
      const [first, second] = [await users.provision(account, profile(`a-${round}`)), await users.provision(account, profile(`b-${round}`))];
      const target = `shared-${round}`;
      const outcomes = await Promise.allSettled([users.relink(first.sid, target), users.relink(second.sid, target)]);
      const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error & { status?: number }] : []));
      expect(won).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.status).toBe(409);
      expect(refused[0]!.message).toContain(`User ${won[0]!.sid} already has the unique id "${target}"; to make them one user, merge that user`);
      expect((await users.provision(account, profile(target))).sid).toBe(won[0]!.sid);
    });
  });

  it('merges a duplicate into the user to keep while another user is relinked to its id: the id lands on the kept user, the relink gets a 409', async () => {
    await inRounds(async (users, round) => {
      const [keep, duplicate, third] = [
        await users.provision(account, profile(`keep-${round}`)),
        await users.provision(account, profile(`dup-${round}`)),
        await users.provision(account, profile(`third-${round}`)),
      ];
      const [merged, relinked] = await Promise.allSettled([
        users.merge(duplicate.sid, keep.sid, { adoptUniqueId: true }),
        users.relink(third.sid, `dup-${round}`),
      ]);
      expect(merged).toMatchObject({ status: 'fulfilled', value: { sid: keep.sid, uniqueId: `dup-${round}` } });
      expect(relinked.status).toBe('rejected');
      expect((relinked as PromiseRejectedResult).reason).toMatchObject({ status: 409 });
      expect((await users.provision(account, profile(`dup-${round}`))).sid).toBe(keep.sid);
      expect(await users.find(duplicate.sid)).toBeUndefined();
      expect((await users.get(third.sid)).uniqueId).toBe(`third-${round}`);
    });
  });

  it('merges two users into each other at the same moment once: the other merge finds its user gone (404), never a deadlock or a 500', async () => {
    await inRounds(async (users, round) => {
      const [a, b] = [await users.provision(account, profile(`pa-${round}`)), await users.provision(account, profile(`pb-${round}`))];
      const outcomes = await Promise.allSettled([
        users.merge(a.sid, b.sid, { adoptUniqueId: true }),
        users.merge(b.sid, a.sid, { adoptUniqueId: true }),
      ]);
      const [won, refused] = [outcomes.filter((o) => o.status === 'fulfilled'), outcomes.filter((o) => o.status === 'rejected')];
      expect(won).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ status: 404 });
      // Gone while it merged, or already gone when it began (the other merge had finished).
      expect(String((refused[0] as PromiseRejectedResult).reason.message)).toMatch(
        /was removed \(merged into another user\) while this request changed it|^User FU[0-9a-f]{32} was not found\.$/,
      );
      const kept = (won[0] as PromiseFulfilledResult<{ sid: string; uniqueId: string }>).value;
      const removed = kept.sid === a.sid ? b : a;
      expect(await users.find(removed.sid)).toBeUndefined();
      expect((await users.get(kept.sid)).uniqueId).toBe(removed.uniqueId);
    });
  });

  it('never brings back a user merged away while it was relinked, and never loses the id it was given', async () => {
    await inRounds(async (users, round) => {
      const [keep, duplicate] = [await users.provision(account, profile(`k-${round}`)), await users.provision(account, profile(`d-${round}`))];
      const [merged, relinked] = await Promise.allSettled([
        users.merge(duplicate.sid, keep.sid, { adoptUniqueId: true }),
        users.relink(duplicate.sid, `d-new-${round}`),
      ]);
      expect(merged.status).toBe('fulfilled');
      expect(await users.find(duplicate.sid)).toBeUndefined();
      const kept = await users.get(keep.sid);
      // The relink landed before the merge (the kept user adopts the new id) or found the user gone (404).
      if (relinked.status === 'fulfilled') expect(kept.uniqueId).toBe(`d-new-${round}`);
      else expect((relinked as PromiseRejectedResult).reason).toMatchObject({ status: 404 });
      if (relinked.status === 'rejected') expect(kept.uniqueId).toBe(`d-${round}`);
      // Whichever id the kept user has signs in as them.
      expect((await users.provision(account, profile(kept.uniqueId))).sid).toBe(keep.sid);
    });
  });

  it('never brings back a user merged away while it was disabled', async () => {
    await inRounds(async (users, round) => {
      const [keep, duplicate] = [await users.provision(account, profile(`dk-${round}`)), await users.provision(account, profile(`dd-${round}`))];
      const [merged, disabled] = await Promise.allSettled([
        users.merge(duplicate.sid, keep.sid, { adoptUniqueId: true }),
        users.setDisabled(duplicate.sid, true),
      ]);
      expect(merged.status).toBe('fulfilled');
      expect(await users.find(duplicate.sid)).toBeUndefined();
      if (disabled.status === 'rejected') expect((disabled as PromiseRejectedResult).reason).toMatchObject({ status: 404 });
      // Disabled before the merge read it, the kept user is not: a merge keeps `into`'s own state.
      expect((await users.get(keep.sid)).disabled).toBe(false);
      expect((await users.provision(account, profile(`dd-${round}`))).sid).toBe(keep.sid);
    });
  });

  it('signs in the user a sign-in under the folded e-mail id created while another re-keyed their other-case twin', async () => {
    await inRounds(async (users, round) => {
      const capitalised = await users.provision(account, profile(`Ada.${round}@Example.com`));
      const folded = `ada.${round}@example.com`;
      // One connection folds e-mail ids (re-keys the capitalised user), the other does not (creates a user).
      const [rekeyed, created] = await Promise.all([
        users.provision(account, profile(folded), { caseInsensitiveEmail: true }),
        users.provision(account, profile(folded), { caseInsensitiveEmail: false }),
      ]);
      expect(rekeyed.uniqueId).toBe(folded);
      expect(created.uniqueId).toBe(folded);
      // Whichever wrote first, both sign-ins are the same user, the one the folded id finds now.
      expect(created.sid).toBe(rekeyed.sid);
      expect(rekeyed.sid).toBe((await users.provision(account, profile(folded))).sid);
      if (rekeyed.sid !== capitalised.sid) expect((await users.get(capitalised.sid)).uniqueId).toBe(`Ada.${round}@Example.com`);
    });
  });
});
