import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, loginHeadless, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { loadConfig } from '../../packages/server/src/config.ts';
import { sha256 } from '../../packages/server/src/crypto/random.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { createServices, type Services } from '../../packages/server/src/services.ts';
import type { RefreshTokenRecord, Session } from '../../packages/server/src/tokens/model.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { DESKTOP_URL, pkcePair, setupAccount } from '../support/flows.ts';
import type { TestLanyard } from '../support/lanyard.ts';
import { Balancer, loginThrough, refreshThrough, tokenFacts, type AgentTokens } from './support/balancer.ts';
import { at, freePort, runCli, startNode, type LanyardNode } from './support/nodes.ts';

/**
 * Three `lanyard serve` processes share one PostgreSQL schema behind one public address. The
 * address (LANYARD_PUBLIC_URL, the same on every node) is where a load balancer would listen;
 * here nothing does: the test plays the balancer and sends each request to the node it chooses
 * by rewriting the origin, so any step of a sign-in can land on any node.
 */
const AGENTS = Array.from({ length: 40 }, (_, i) => ({
  id: `agent${i}@example.com`,
  full_name: `Agent ${i}`,
  email: `agent${i}@example.com`,
  roles: ['agent'],
}));
const USERS = [{ id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['supervisor', 'agent'] }, ...AGENTS];

describe('a three-node cluster on one PostgreSQL', () => {
  let idp: DevIdp;
  let db: TestDatabase;
  let env: Record<string, string>;
  let publicUrl: string;
  let nodes: LanyardNode[];
  let a: LanyardNode, b: LanyardNode, c: LanyardNode;
  let admin: Services;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  const tokenUrl = () => `${publicUrl}/v1/Flex/OAuth/Tokens`;
  const post = async (node: LanyardNode, url: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(at(node, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const refreshAt = (node: LanyardNode, refreshToken: string) =>
    post(node, tokenUrl(), { grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: setup.connection.sid });
  const validateAt = (node: LanyardNode, token: string) =>
    post(
      node,
      `${publicUrl}/v1/Accounts/${setup.account.sid}/Tokens/validate`,
      { token },
      { authorization: 'Basic ' + Buffer.from(`${setup.account.sid}:${setup.authToken}`).toString('base64') },
    );

  /** One sign-in with each step on the node given: authorize, ACS, token. */
  async function loginAcross(route: [LanyardNode, LanyardNode, LanyardNode], userId = 'ada@example.com') {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const nonce = randomBytes(8).toString('hex');
    const authorize = new URL('/v1/Flex/Authorize', publicUrl);
    for (const [k, v] of Object.entries({
      ssoProfileSid: setup.connection.sid,
      redirectUrl: DESKTOP_URL,
      state,
      nonce,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const start = await fetch(at(route[0], authorize.toString()), { redirect: 'manual' });
    expect(start.status).toBe(302);
    const form = await loginHeadless(idp, start.headers.get('location')!, userId);
    // The IdP posts to the public ACS URL; the balancer sends it to the second node.
    expect(new URL(form.action).origin).toBe(publicUrl);
    const acs = await fetch(at(route[1], form.action), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form.fields as Record<string, string>),
    });
    expect(acs.status).toBe(303);
    const callback = new URL(acs.headers.get('location')!);
    expect(callback.searchParams.get('state')).toBe(state);
    const code = callback.searchParams.get('code')!;
    const exchangeAt = (node: LanyardNode) =>
      post(node, tokenUrl(), {
        grant_type: 'AuthorizationCode',
        app_type: 'SinglePageApp',
        sso_profile_sid: setup.connection.sid,
        code,
        code_verifier: verifier,
        nonce,
      });
    return { form, exchange: () => exchangeAt(route[2]), exchangeAt };
  }

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    db = await createTestDatabase('postgres');
    publicUrl = `http://127.0.0.1:${await freePort()}`;
    env = {
      LANYARD_DATABASE_URL: db.url,
      LANYARD_SECRET_KEY: randomBytes(32).toString('base64'),
      LANYARD_PUBLIC_URL: publicUrl,
      LANYARD_REFRESH_GRACE_SECONDS: '10',
      LANYARD_SIGNING_KEY_RELOAD: '2',
      // All load comes from one loopback address; per-address limits are tested in test/security.
      LANYARD_RATE_LIMIT_LOGIN: '0',
      LANYARD_RATE_LIMIT_TOKEN: '0',
    };
    // Started together on an empty schema: they race to migrate and to create the signing key.
    nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((name) => startNode(name, env)));
    [a, b, c] = nodes as [LanyardNode, LanyardNode, LanyardNode];
    admin = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    setup = await setupAccount({ services: admin } as unknown as TestLanyard, idp);
  }, 90_000);

  afterAll(async () => {
    for (const node of nodes ?? []) node.kill('SIGKILL');
    await Promise.all((nodes ?? []).map((node) => node.exited));
    await admin?.storage.close();
    await db?.drop();
    await idp?.close();
  });

  it('ends with exactly one signing key per algorithm when the nodes start together, and every node publishes them', async () => {
    const keys = await admin.storage.list<{ retiredAt: number | null; alg: string }>('signing_key');
    const active = keys.filter((k) => k.payload.retiredAt === null);
    // ES256 signs access tokens, RS256 ID tokens by default: one active key each, no more.
    expect(active.map((k) => k.payload.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(keys).toHaveLength(2);
    for (const node of nodes) {
      const jwks = (await (await fetch(`${node.origin}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual(keys.map((k) => k.id).sort());
    }
  });

  it('signs in with authorize on A, the ACS on B and the token on C; the token validates on every node', async () => {
    const { exchange } = await loginAcross([a, b, c]);
    const tokens = await exchange();
    expect(tokens.status).toBe(200);
    for (const node of nodes)
      expect((await validateAt(node, tokens.body.access_token as string)).body).toMatchObject({ valid: true, realm_user_id: 'ada@example.com' });
  });

  it('refuses the same SAML response posted again at another node', async () => {
    const { form } = await loginAcross([b, c, a]);
    const again = await fetch(at(a, form.action), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form.fields as Record<string, string>),
    });
    expect(again.status).toBe(401);
    expect(await again.text()).toMatch(/already completed \(replay\)/);
  });

  it('rotates refresh tokens across nodes; a retry of a spent token on another node gets the same successor', async () => {
    const first = await (await loginAcross([c, a, b])).exchange();
    const r1 = await refreshAt(a, first.body.refresh_token as string);
    expect(r1.status).toBe(200);
    // The response to A was "lost": the client retries the same token at B within the grace window.
    const retry = await refreshAt(b, first.body.refresh_token as string);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token);
    const r2 = await refreshAt(c, r1.body.refresh_token as string);
    expect(r2.status).toBe(200);
    expect(r2.body.refresh_token).not.toBe(r1.body.refresh_token);
    for (const node of nodes) expect((await validateAt(node, r2.body.access_token as string)).body.valid).toBe(true);
    const session = await admin.storage.find<Session>('session', tokenFacts(r2.body.access_token as string).sid);
    expect(session?.payload.revokedAt).toBeNull();
  });

  it('revokes what a code issued when the code is replayed at another node, on every node', async () => {
    const { exchange, exchangeAt } = await loginAcross([a, b, c]);
    const tokens = await exchange();
    expect(tokens.status).toBe(200);
    const replay = await exchangeAt(a);
    expect(replay.status).toBe(400);
    expect(replay.body.message).toMatch(/already been used/);
    for (const node of nodes) expect((await validateAt(node, tokens.body.access_token as string)).body.valid).toBe(false);
    expect((await refreshAt(b, tokens.body.refresh_token as string)).status).toBe(400);
    const session = await admin.storage.find<Session>('session', tokenFacts(tokens.body.access_token as string).sid);
    expect(session?.payload.revokedReason).toBe('authorization_code_replay');
  });

  it('rotates the signing key with the CLI: old tokens verify everywhere, every node signs with the new kid', async () => {
    const before = await (await loginAcross([a, b, c])).exchange();
    const oldKid = tokenFacts(before.body.access_token as string).kid;
    const rotated = await runCli(['--json', 'signing-keys', 'rotate'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = (JSON.parse(rotated.stdout) as { kid: string }).kid;
    expect(newKid).not.toBe(oldKid);
    // Old-key tokens keep validating on every node, including ones that have not reloaded yet.
    for (const node of nodes) expect((await validateAt(node, before.body.access_token as string)).body.valid).toBe(true);
    // Within LANYARD_SIGNING_KEY_RELOAD (2 s here) every node signs with the new key.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    // Every node publishes the new key by then, before it signs anything with it: a backend's
    // verifier that fetches the JWKS from any node finds the key of a token another node signed.
    for (const node of nodes) {
      const published = (await (await fetch(`${node.origin}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(published.keys.map((k) => k.kid)).toContain(newKid);
    }
    let refreshToken = before.body.refresh_token as string;
    for (const node of nodes) {
      const refreshed = await refreshAt(node, refreshToken);
      expect(refreshed.status).toBe(200);
      refreshToken = refreshed.body.refresh_token as string;
      expect(tokenFacts(refreshed.body.access_token as string).kid).toBe(newKid);
      for (const other of nodes) expect((await validateAt(other, refreshed.body.access_token as string)).body.valid).toBe(true);
      const jwks = (await (await fetch(`${node.origin}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string }> };
      // The access-token keys (ES256), old and new; the rotation replaced the RS256 key alike.
      expect(
        jwks.keys
          .filter((k) => k.alg === 'ES256')
          .map((k) => k.kid)
          .sort(),
      ).toEqual([oldKid, newKid].sort());
      expect(jwks.keys.filter((k) => k.alg === 'RS256')).toHaveLength(2);
    }
    expect((await validateAt(c, before.body.access_token as string)).body.valid).toBe(true);
  });

  it('logs one JSON line per request with its request id, never a query string or a token', async () => {
    const response = await fetch(`${a.origin}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`, {
      headers: { 'x-request-id': 'cluster-req-1' },
    });
    expect(response.headers.get('x-request-id')).toBe('cluster-req-1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = a.logs.filter((l) => l.message === 'request');
    expect(lines.find((l) => l.request_id === 'cluster-req-1')).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/v1/Flex/Authentication/Config',
      status: 200,
    });
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['duration_ms', 'level', 'message', 'method', 'request_id', 'route', 'status', 'time']);
      expect(String(line.route)).not.toContain('?');
    }
    const everything = nodes.flatMap((n) => n.logs.map((l) => JSON.stringify(l))).join('\n');
    expect(everything).not.toMatch(/code=|SAMLResponse|lrt_|eyJ/);
    expect(lines.some((l) => l.route === '/login/callback' && l.method === 'POST')).toBe(true);
  });

  it('keeps every client working when a node is SIGKILLed under load: nothing lost, nothing duplicated', { timeout: 90_000 }, async () => {
    const balancer = new Balancer(nodes);
    const REFRESHES = 4;
    const CONCURRENCY = 8;
    const KILL_AFTER = 60;
    const loadStart = Date.now();
    const stats = { operations: 0, retries: 0, restarts: 0, replayedCodes: 0, killedAt: -1 };
    const agents: Array<{ userId: string; sid: string; tokens: AgentTokens }> = [];
    const random = () => Math.floor(Math.random() * nodes.length);
    const done = () => {
      stats.operations++;
      if (stats.operations === KILL_AFTER) {
        stats.killedAt = stats.operations;
        c.kill('SIGKILL');
      }
    };

    const queue = [...AGENTS];
    const worker = async () => {
      for (let agent = queue.shift(); agent; agent = queue.shift()) {
        const login = await loginThrough(balancer, publicUrl, idp, setup.connection.sid, agent.id, random);
        stats.retries += login.retries;
        stats.restarts += login.restarts;
        stats.replayedCodes += login.replayedCodes;
        let tokens = login.tokens;
        done();
        for (let i = 0; i < REFRESHES; i++) {
          const refreshed = await refreshThrough(balancer, publicUrl, setup.connection.sid, tokens.refresh_token, random());
          if (refreshed.status !== 200)
            throw new Error(
              `refresh ${i + 1} of ${agent.id} on ${refreshed.node.name} (after ${refreshed.retries} retries): ${refreshed.status} ${JSON.stringify(refreshed.body)}`,
            );
          stats.retries += refreshed.retries;
          tokens = refreshed.body;
          done();
        }
        agents.push({ userId: agent.id, sid: tokenFacts(tokens.access_token).sid, tokens });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log('cluster load', { ...stats, ms: Date.now() - loadStart });

    // Every client operation succeeded, some of them only after a retry on another node.
    expect(stats.operations).toBe(AGENTS.length * (1 + REFRESHES));
    expect(stats.killedAt).toBe(KILL_AFTER);
    expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stats.retries).toBeGreaterThan(0);

    // The database holds exactly the sessions the clients hold: none lost, none extra.
    const sessions = await admin.storage.list<Session>('session', { since: loadStart });
    const live = sessions
      .filter((s) => s.payload.revokedAt === null)
      .map((s) => s.id)
      .sort();
    expect(live).toEqual(agents.map((agent) => agent.sid).sort());
    // Revoked ones can only be codes our own retries replayed (the first try had committed); no family was revoked by a retried refresh.
    const revoked = sessions.filter((s) => s.payload.revokedAt !== null);
    expect(revoked.map((s) => s.payload.revokedReason)).toEqual(Array(stats.replayedCodes).fill('authorization_code_replay'));
    for (const agent of agents) {
      const family = await admin.storage.list<RefreshTokenRecord>('refresh_token', { family: agent.sid });
      expect(family, agent.userId).toHaveLength(1 + REFRESHES);
      expect(family.filter((t) => t.consumedAt === null).map((t) => t.id)).toEqual([sha256(agent.tokens.refresh_token)]);
    }
    for (const node of [a, b]) {
      for (const agent of agents.slice(0, 5)) expect((await validateAt(node, agent.tokens.access_token)).body.valid).toBe(true);
    }
    const metrics = await (await fetch(`${a.origin}/metrics`)).text();
    expect(metrics).toMatch(/^lanyard_token_grants_total\{grant="refresh_token",outcome="issued"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^lanyard_logins_total\{surface="flex",outcome="succeeded"\} [1-9]\d*$/m);
  });
});

describe('rate limits across nodes', () => {
  let db: TestDatabase;
  let nodes: LanyardNode[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const env = { LANYARD_DATABASE_URL: db.url, LANYARD_SECRET_KEY: randomBytes(32).toString('base64'), LANYARD_RATE_LIMIT_TOKEN: '2' };
    nodes = await Promise.all(['limit-a', 'limit-b', 'limit-c'].map((name) => startNode(name, env)));
  }, 60_000);
  afterAll(async () => {
    for (const node of nodes) node.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.exited));
    await db?.drop();
  });

  it('stops a flood from one address across nodes within the documented bound (nodes × the per-node budget)', async () => {
    // Each node counts in its own memory (no database write per request): a client spread over
    // three nodes by the balancer gets at most 3 × 2 requests a minute, then 429 everywhere.
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const response = await fetch(`${nodes[i % nodes.length]!.origin}/v1/Flex/OAuth/Tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      statuses.push(response.status);
      if (response.status === 429) retryAfter ??= response.headers.get('retry-after');
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 400, 429, 429, 429, 429, 429, 429]);
    // Two a minute refill one every 30 s.
    expect(Number(retryAfter)).toBeGreaterThan(20);
    expect(Number(retryAfter)).toBeLessThanOrEqual(30);
  });
});
