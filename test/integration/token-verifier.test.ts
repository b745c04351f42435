import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDesktopTokenVerifier, TokenVerificationError } from '../../packages/sdk/src/token-verifier.ts';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import type { Session } from '../../packages/server/src/tokens/model.ts';
import type { User } from '../../packages/server/src/users/user-service.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { exchangeCode, flexLogin, setupAccount } from '../support/flows.ts';

const USERS = [{ id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'agent'] }];

/** In front of Lanyard's JWKS: counts the fetches; answers another body, status or redirect while one is set. */
async function jwksProxy(upstream: string) {
  const state = { fetches: 0, replacement: undefined as string | undefined, status: 200, location: undefined as string | undefined };
  const server: Server = createServer(async (_request, response) => {
    state.fetches++;
    if (state.location) return void response.writeHead(302, { location: state.location }).end();
    const body = state.replacement ?? (await (await fetch(`${upstream}/.well-known/jwks.json`)).text());
    response.writeHead(state.status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, close: () => new Promise((r) => server.close(r)) };
}

async function refusalOf(promise: Promise<unknown>): Promise<TokenVerificationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenVerificationError);
  return error as TokenVerificationError;
}

describe('@lanyard/sdk/token-verifier: a backend verifies desktop access tokens against the JWKS', () => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let other: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard('sqlite');
    setup = await setupAccount(lanyard, idp);
    other = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  async function signIn(account = setup): Promise<string> {
    const tokens = await exchangeCode(lanyard, account.connection.sid, await flexLogin(lanyard, idp, account.connection.sid, 'ada@example.com'));
    expect(tokens.status).toBe(200);
    return tokens.body.access_token as string;
  }

  /** A token of the real signer for a session of another surface, or with another expiry. */
  async function tokenFor(surface: Session['surface'], expiresAt = Date.now() + 60_000): Promise<string> {
    const session = { id: 'SE1', surface, clientId: setup.connection.clientId, scope: 'openid profile' } as Session;
    const user = {
      sid: `FU${'1'.repeat(32)}`,
      identity: 'ada',
      uniqueId: 'ada@example.com',
      roles: ['agent'],
      fullName: 'Ada',
      email: 'ada@example.com',
    } as unknown as User;
    return lanyard.services.accessTokens.issueAccessToken(
      session,
      user,
      { sid: setup.account.sid, instanceSid: setup.account.instanceSid } as never,
      expiresAt,
    );
  }

  it("returns a real sign-in's claims, and refuses the other account's token, a changed token and a wrong issuer with their causes", async () => {
    const verify = createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid });
    const claims = await verify(await signIn());
    expect(claims).toMatchObject({ iss: lanyard.url, aud: setup.account.sid, surface: 'flex', full_name: 'Ada Lovelace', roles: ['admin', 'agent'] });
    expect(claims.sub).toMatch(/^FU[0-9a-f]{32}$/);

    const foreign = await refusalOf(verify(await signIn(other)));
    expect(foreign.code).toBe('token_invalid');
    expect(foreign.message).toContain(`another account; this verifier accepts ${setup.account.sid}`);

    const [header, payload, signature] = (await signIn()).split('.');
    const changed = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), roles: ['supervisor'] })).toString(
      'base64url',
    );
    expect((await refusalOf(verify(`${header}.${changed}.${signature}`))).message).toBe('The token signature is invalid.');

    const elsewhere = createDesktopTokenVerifier({
      issuer: 'https://sso.example.com',
      accountSid: setup.account.sid,
      jwksUrl: `${lanyard.url}/.well-known/jwks.json`,
    });
    expect((await refusalOf(elsewhere(await signIn()))).message).toContain(
      `was issued by "${lanyard.url}"; this verifier accepts https://sso.example.com`,
    );

    for (const garbage of ['', 'not.a.jwt', 'a.b']) expect((await refusalOf(verify(garbage))).code).toBe('token_invalid');
    expect((await refusalOf(verify(`Bearer ${await signIn()}`))).message).toContain('without its "Bearer " prefix');
  });

  it('refuses an expired token (token_expired), a token of the OIDC surface and an ID token', async () => {
    const verify = createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid });
    expect((await verify(await tokenFor('legacy'))).surface).toBe('legacy');
    expect((await refusalOf(verify(await tokenFor('flex', Date.now() - 60_000)))).code).toBe('token_expired');
    expect((await refusalOf(verify(await tokenFor('oidc')))).message).toContain('not issued to a desktop (surface "oidc")');
    const session = { id: 'SE1', surface: 'oidc', clientId: setup.connection.clientId, authTime: Date.now(), amr: [] } as unknown as Session;
    const user = {
      sid: `FU${'1'.repeat(32)}`,
      identity: 'ada',
      uniqueId: 'ada',
      roles: [],
      fullName: 'Ada',
      email: 'ada@example.com',
    } as unknown as User;
    const idToken = await lanyard.services.accessTokens.issueIdToken(session, user, Date.now() + 60_000, 'openid');
    expect((await refusalOf(verify(idToken))).message).toContain('not a Lanyard access token');
  });

  it('fetches the keys once for many tokens, again for a rotated key, and stops trusting a key the set dropped', async () => {
    const proxy = await jwksProxy(lanyard.url);
    try {
      const verify = createDesktopTokenVerifier({
        issuer: lanyard.url,
        accountSid: setup.account.sid,
        jwksUrl: proxy.url,
        keysMaxAgeSeconds: 1,
        refetchCooldownSeconds: 1,
      });
      const before = await signIn();
      await Promise.all(Array.from({ length: 20 }, () => verify(before)));
      expect(proxy.state.fetches).toBe(1);

      await lanyard.services.keys.rotate();
      const after = await tokenFor('flex');
      // Within the cooldown of the first fetch: it waits for the cooldown's end, then fetches.
      expect((await verify(after)).aud).toBe(setup.account.sid);
      expect(proxy.state.fetches).toBe(2);
      // Two published ES256 keys now: a token that names no key is the token's fault.
      const noKid = `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt' })).toString('base64url')}.${after.split('.')[1]}.${after.split('.')[2]}`;
      const unnamed = await refusalOf(verify(noKid));
      expect(unnamed.code).toBe('token_invalid');
      expect(unnamed.message).toContain('names no key (kid)');
      // The retired key still verifies (it stays in the JWKS).
      await verify(before);
      await verify(after);

      // Lanyard's set without the key that signed `after` (as once that key is deleted).
      const { kid } = JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()) as { kid: string };
      const published = (await (await fetch(`${lanyard.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      proxy.state.replacement = JSON.stringify({ keys: published.keys.filter((k) => k.kid !== kid) });
      // Within the set's max age the cached keys answer; after it, the new set is fetched and the key no longer verifies.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const dropped = await refusalOf(verify(after));
      expect(dropped.message).toContain("that Lanyard's JWKS does not hold, fetched again for it");
    } finally {
      await proxy.close();
    }
  });

  it('names a JWKS that is not usable: two keys for one kid, a body that is no key set', async () => {
    const proxy = await jwksProxy(lanyard.url);
    try {
      const token = await tokenFor('flex');
      const { kid } = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
      const published = (await (await fetch(`${lanyard.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      const signer = published.keys.find((k) => k.kid === kid)!;
      proxy.state.replacement = JSON.stringify({ keys: [signer, signer] });
      const twice = await refusalOf(createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url })(token));
      expect(twice.code).toBe('keys_unavailable');
      expect(twice.message).toContain('the JWKS holds more than one key for kid');
      proxy.state.replacement = JSON.stringify({ keys: 'none' });
      const junk = await refusalOf(
        createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url })(await tokenFor('flex')),
      );
      expect(junk.code).toBe('keys_unavailable');
      expect(junk.message).toContain(proxy.url);
      proxy.state.replacement = JSON.stringify({ keys: [] });
      const empty = await refusalOf(createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url })(token));
      expect(empty.code).toBe('keys_unavailable');
      expect(empty.message).toContain('holds no ES256 key');
    } finally {
      await proxy.close();
    }
  });

  it('does not follow a redirect for keys, does not refetch for every token after a failure, and refuses an oversized answer', async () => {
    const proxy = await jwksProxy(lanyard.url);
    try {
      const token = await tokenFor('flex');
      proxy.state.location = 'http://127.0.0.1:9/evil-keys';
      const redirected = await refusalOf(
        createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url })(token),
      );
      expect(redirected.code).toBe('keys_unavailable');
      expect(redirected.message).toContain('redirected to http://127.0.0.1:9/evil-keys');
      proxy.state.location = undefined;

      proxy.state.status = 500;
      proxy.state.fetches = 0;
      const verify = createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url });
      for (let i = 0; i < 10; i++) expect((await refusalOf(verify(token))).message).toContain('answered HTTP 500');
      expect(proxy.state.fetches).toBe(1);
      proxy.state.status = 200;

      proxy.state.replacement = JSON.stringify({ keys: [], padding: 'x'.repeat(2 * 1024 * 1024) });
      const oversized = await refusalOf(
        createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: proxy.url })(token),
      );
      expect(oversized.message).toContain('answered more than 1048576 bytes');
    } finally {
      await proxy.close();
    }
  });

  it('answers a failed fetch from memory within the cooldown even when the fetch took as long as the cooldown', async () => {
    let requests = 0;
    const silent = createServer(() => void requests++); // never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const verify = createDesktopTokenVerifier({
        issuer: lanyard.url,
        accountSid: setup.account.sid,
        jwksUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks.json`,
        timeoutMs: 1_000,
        refetchCooldownSeconds: 1,
      });
      const token = await tokenFor('flex');
      const started = performance.now();
      for (let i = 0; i < 4; i++) expect((await refusalOf(verify(token))).message).toContain('did not answer within 1000 ms');
      expect(requests).toBe(1);
      expect(performance.now() - started).toBeLessThan(1_900);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('with the default options, a key rotated in just after a fetch verifies within the cooldown (5 s)', async () => {
    const verify = createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid });
    await verify(await tokenFor('flex'));
    await lanyard.services.keys.rotate();
    const started = Date.now();
    expect((await verify(await tokenFor('flex'))).surface).toBe('flex');
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('says when the keys cannot be fetched (keys_unavailable), and refuses bad options at creation', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const verify = createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
    const unavailable = await refusalOf(verify(await signIn()));
    expect(unavailable.code).toBe('keys_unavailable');
    expect(unavailable.message).toContain(`http://127.0.0.1:${port}/jwks.json`);

    expect(() => createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: 'AC12' })).toThrow(/accountSid must be an account SID/);
    expect(() => createDesktopTokenVerifier({ issuer: 'sso.example.com', accountSid: setup.account.sid })).toThrow(TypeError);
    expect(() => createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, keysMaxAgeSeconds: Number.NaN })).toThrow(
      /keysMaxAgeSeconds must be a number from 1 to 86400/,
    );
    expect(() => createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, clockToleranceSeconds: 1e9 })).toThrow(
      /clockToleranceSeconds/,
    );
    expect(() =>
      createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, keysMaxAgeSeconds: 2, refetchCooldownSeconds: 5 }),
    ).toThrow(/keysMaxAgeSeconds must be at least refetchCooldownSeconds/);
    for (const issuer of ['mailto:x@example.com', 'https://sso.example.com/?x=1']) {
      expect(() => createDesktopTokenVerifier({ issuer, accountSid: setup.account.sid })).toThrow(/issuer must be Lanyard's public URL/);
    }
    expect(() => createDesktopTokenVerifier({ issuer: lanyard.url, accountSid: setup.account.sid, jwksUrl: '/jwks.json' })).toThrow(
      /jwksUrl must be/,
    );
    // The server writes iss without trailing slashes; the verifier reads the option the same way.
    const slashes = createDesktopTokenVerifier({ issuer: `${lanyard.url}//`, accountSid: setup.account.sid });
    expect((await slashes(await tokenFor('flex'))).iss).toBe(lanyard.url);
  });
});
