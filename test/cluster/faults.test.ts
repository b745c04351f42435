import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { sha256 } from '../../packages/server/src/crypto/random.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { loadConfig, startLanyard, type Lanyard } from '../../packages/server/src/index.ts';
import type { RefreshTokenRecord, Session } from '../../packages/server/src/tokens/model.ts';
import pg from 'pg';
import { POSTGRES_URL, createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { exchangeCode, flexLogin, refreshTokens, setupAccount } from '../support/flows.ts';
import type { TestLanyard } from '../support/lanyard.ts';
import { tokenFacts } from './support/balancer.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

const AGENTS = Array.from({ length: 12 }, (_, i) => ({
  id: `agent${i}@example.com`,
  full_name: `Agent ${i}`,
  email: `agent${i}@example.com`,
  roles: ['agent'],
}));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(databaseUrl: string, extra: Record<string, string> = {}): Promise<TestLanyard> {
  // All load comes from one loopback address, and each session refreshes far more often than a
  // desktop would: the limits are tested in test/security and http/rate-limit.test.ts, not here.
  const env = {
    LANYARD_PORT: '0',
    LANYARD_DATABASE_URL: databaseUrl,
    LANYARD_RATE_LIMIT_LOGIN: '0',
    LANYARD_RATE_LIMIT_TOKEN: '0',
    LANYARD_RATE_LIMIT_REFRESH_FAMILY: '0',
    ...extra,
  };
  const config = loadConfig(env, { secretKey: randomBytes(32) });
  const lanyard = await startLanyard(config, { logger: jsonLogger(process.env.LANYARD_TEST_LOG === '1' ? 'info' : 'silent') });
  return { ...lanyard, stop: () => lanyard.close() } as unknown as TestLanyard;
}

async function signIn(lanyard: TestLanyard, idp: DevIdp, connectionSid: string, userId: string) {
  const tokens = await exchangeCode(lanyard, connectionSid, await flexLogin(lanyard, idp, connectionSid, userId));
  expect(tokens.status).toBe(200);
  return tokens.body as { access_token: string; refresh_token: string };
}

/**
 * Lanyard on a schema of its own of the shared PostgreSQL, reached through a TcpProxy that the
 * tests cut or silence (the real server keeps running for the other suites), and an account set
 * up on the development IdP. `urlParameters` are appended to the database URL.
 */
async function startBehindProxy(urlParameters: string, env: Record<string, string> = {}) {
  const idp = await startDevIdp({ port: 0, users: AGENTS });
  const db = await createTestDatabase('postgres');
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
  const url = new URL(db.url);
  url.port = String(proxy.port);
  const lanyard = await start(`${url}${urlParameters}`, env);
  return { idp, db, proxy, lanyard, setup: await setupAccount(lanyard, idp) };
}

async function stopBehindProxy(started: { idp?: DevIdp; db?: TestDatabase; proxy?: TcpProxy; lanyard?: TestLanyard }) {
  await started.lanyard?.stop();
  await started.proxy?.close();
  await started.db?.drop();
  await started.idp?.close();
}

describe('PostgreSQL restarted under load (a TCP proxy cut in front of the shared server)', () => {
  let idp: DevIdp;
  let db: TestDatabase;
  let proxy: TcpProxy;
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => ({ idp, db, proxy, lanyard, setup } = await startBehindProxy('', { LANYARD_REFRESH_GRACE_SECONDS: '10' })));
  afterAll(() => stopBehindProxy({ idp, db, proxy, lanyard }));

  it('answers 503 with Retry-After during the outage (never 500, never a hang), then recovers with nothing lost', { timeout: 60_000 }, async () => {
    const agents = await Promise.all(
      AGENTS.map(async (agent) => ({ userId: agent.id, tokens: await signIn(lanyard, idp, setup.connection.sid, agent.id), rotations: 0 })),
    );
    const seen = {
      ok: 0,
      unavailable: 0,
      withoutRetryAfter: 0,
      other: [] as string[],
      slowest: 0,
      logins: 0,
      loginRestarts: 0,
      /** Exchanges whose COMMIT reached PostgreSQL as the proxy was cut: see below. */
      spentInCommitWindow: 0,
      readyz: new Set<number>(),
    };
    let running = true;
    const timed = async <T>(work: () => Promise<T>): Promise<T> => {
      const started = Date.now();
      try {
        return await work();
      } finally {
        seen.slowest = Math.max(seen.slowest, Date.now() - started);
      }
    };

    // Refreshing agents: a 503 keeps the same refresh token and tries again, as the SDK does.
    const refresher = async (agent: (typeof agents)[number]) => {
      while (running) {
        const response = await timed(() =>
          fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ grant_type: 'RefreshToken', refresh_token: agent.tokens.refresh_token, sso_profile_sid: setup.connection.sid }),
            signal: AbortSignal.timeout(15_000),
          }),
        );
        const body = (await response.json()) as { access_token: string; refresh_token: string; message?: string };
        if (response.status === 200) {
          seen.ok++;
          agent.tokens = body;
          agent.rotations++;
        } else if (response.status === 503) {
          seen.unavailable++;
          if (!response.headers.get('retry-after')) seen.withoutRetryAfter++;
          await sleep(100);
        } else {
          seen.other.push(`refresh ${response.status}: ${body.message}`);
          return;
        }
        await sleep(20);
      }
    };
    // Whole sign-ins: any step answering 503 begins the sign-in again; a code whose exchange
    // answered 503 is retried as is and then succeeds (the exchange wrote nothing) — unless the
    // cut fell between PostgreSQL committing and its answer: the exchange then happened, no node
    // can know it, and the retry is a replay ("already used"; the desktop signs in again). That
    // window is a round trip wide: it may happen once in a run, not as a rule.
    const signer = async () => {
      while (running) {
        const agent = AGENTS[seen.logins % AGENTS.length]!;
        try {
          const login = await timed(() => flexLogin(lanyard, idp, setup.connection.sid, agent.id));
          let retried = false;
          let lost = false;
          for (;;) {
            const exchange = await timed(() => exchangeCode(lanyard, setup.connection.sid, login));
            if (exchange.status === 200) break;
            if (retried && exchange.status === 400 && /already been used/.test(String(exchange.body.message))) {
              seen.spentInCommitWindow++;
              lost = true;
              break;
            }
            if (exchange.status !== 503) throw new Error(`code exchange after 503: ${exchange.status} ${String(exchange.body.message)}`);
            retried = true;
            seen.unavailable++;
            await sleep(100);
          }
          if (!lost) seen.logins++;
        } catch (error) {
          const message = (error as Error).message;
          if (/answered 503/.test(message)) {
            seen.unavailable++;
            seen.loginRestarts++;
            await sleep(100);
          } else {
            seen.other.push(message.slice(0, 300));
            return;
          }
        }
      }
    };
    const readiness = async () => {
      while (running) {
        seen.readyz.add((await timed(() => fetch(`${lanyard.url}/readyz`))).status);
        await sleep(200);
      }
    };

    const load = Promise.all([...agents.map(refresher), signer(), signer(), readiness()]);
    await sleep(1_500);
    const okBeforeCut = seen.ok;
    await proxy.cut();
    await sleep(4_000);
    const unavailableDuringCut = seen.unavailable;
    await proxy.restore();
    await sleep(4_000);
    running = false;
    await load;
    console.log('postgres outage', { ...seen, readyz: [...seen.readyz], okBeforeCut, unavailableDuringCut });

    expect(seen.other).toEqual([]);
    expect(seen.spentInCommitWindow).toBeLessThanOrEqual(2);
    expect(okBeforeCut).toBeGreaterThan(0);
    expect(unavailableDuringCut).toBeGreaterThan(0);
    expect(seen.withoutRetryAfter).toBe(0);
    expect([...seen.readyz].sort()).toEqual([200, 503]);
    // No request hangs: the pool gives up connecting after 5 s. The bound is four times that, so it
    // tells a hang from a machine loaded by other suites (9 s was seen with browsers running);
    // latency itself is measured by the benchmarks, not asserted here.
    expect(seen.slowest).toBeLessThan(20_000);

    // Recovery: every agent refreshes again, and each family is intact: one live token, the client's.
    for (const agent of agents) {
      const after = await refreshTokens(lanyard, setup.connection.sid, agent.tokens.refresh_token);
      expect(after.status, agent.userId).toBe(200);
      agent.tokens = after.body as typeof agent.tokens;
      agent.rotations++;
      const sid = tokenFacts(agent.tokens.access_token).sid;
      const session = await lanyard.services.storage.find<Session>('session', sid);
      expect(session?.payload.revokedAt).toBeNull();
      const family = await lanyard.services.storage.list<RefreshTokenRecord>('refresh_token', { family: sid });
      expect(family).toHaveLength(agent.rotations + 1);
      expect(family.filter((t) => t.consumedAt === null).map((t) => t.id)).toEqual([sha256(agent.tokens.refresh_token)]);
    }
    const revoked = (await lanyard.services.storage.list<Session>('session')).filter((s) => s.payload.revokedAt !== null);
    expect(revoked).toEqual([]);
    expect((await fetch(`${lanyard.url}/readyz`)).status).toBe(200);
  });
  it('writes nothing when PostgreSQL goes away in the middle of a grant: the retried exchange and refresh succeed', async () => {
    // PostgreSQL's own shutdown error (57P01, what clients see while it restarts), raised by a
    // trigger on exactly the second write of a grant, after its first write went through.
    const schema = new URL(db.url).searchParams.get('schema')!;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const failOn = async (kind: string | null) => {
      await client.query(`DROP TRIGGER IF EXISTS fail_insert ON ${schema}.records`);
      if (!kind) return;
      await client.query(`CREATE OR REPLACE FUNCTION ${schema}.fail_insert() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01'; END $$ LANGUAGE plpgsql`);
      await client.query(
        `CREATE TRIGGER fail_insert BEFORE INSERT ON ${schema}.records FOR EACH ROW WHEN (NEW.kind = '${kind}') EXECUTE FUNCTION ${schema}.fail_insert()`,
      );
    };
    try {
      const login = await flexLogin(lanyard, idp, setup.connection.sid, AGENTS[0]!.id);
      await failOn('session');
      const failed = await exchangeCode(lanyard, setup.connection.sid, login);
      expect(failed.status).toBe(503);
      await failOn(null);
      const retried = await exchangeCode(lanyard, setup.connection.sid, login);
      expect(retried.status, String(retried.body.message)).toBe(200);

      await failOn('refresh_token');
      const refused = await refreshTokens(lanyard, setup.connection.sid, retried.body.refresh_token as string);
      expect(refused.status).toBe(503);
      await failOn(null);
      // Long after any grace window would matter: the token was never spent, so this is a plain rotation.
      const refreshed = await refreshTokens(lanyard, setup.connection.sid, retried.body.refresh_token as string);
      expect(refreshed.status).toBe(200);
      const sid = tokenFacts(refreshed.body.access_token as string).sid;
      expect((await lanyard.services.storage.find<Session>('session', sid))?.payload.revokedAt).toBeNull();
      expect(await lanyard.services.storage.list('refresh_token', { family: sid })).toHaveLength(2);
    } finally {
      await failOn(null);
      await client.end();
    }
  });
});

/** Root may mount a tiny tmpfs; elsewhere these tests fall back to SQLite's own limits (documented). */
function tryMount(dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const unmount = (dir: string) => execFileSync('umount', [dir], { stdio: 'pipe' });

describe('PostgreSQL stops answering or holds a lock (no reset, no error: the request would wait forever)', () => {
  let idp: DevIdp;
  let db: TestDatabase;
  let proxy: TcpProxy;
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => ({ idp, db, proxy, lanyard, setup } = await startBehindProxy('&statement_timeout=500&query_timeout=1500')));
  afterAll(() => stopBehindProxy({ idp, db, proxy, lanyard }));

  /** A refresh, timed: its status, Retry-After, message and how long it took (ms). */
  const timedRefresh = async (refreshToken: string) => {
    const started = Date.now();
    const response = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: setup.connection.sid }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await response.json()) as { refresh_token?: string; message?: string };
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body, ms: Date.now() - started };
  };

  it('a server gone silent (a failover, a partition): 503 with Retry-After at query_timeout naming it, then 200 on a new connection', async () => {
    const tokens = await signIn(lanyard, idp, setup.connection.sid, AGENTS[0]!.id);
    expect(proxy.blackHole()).toBeGreaterThan(0);
    const silent = await timedRefresh(tokens.refresh_token);
    expect(silent).toMatchObject({ status: 503, retryAfter: expect.any(String) });
    expect(silent.body.message).toMatch(/PostgreSQL did not answer a statement within query_timeout/);
    expect(silent.ms).toBeLessThan(6_000);
    // The same token (nothing was spent), on a connection that answers.
    const retried = await timedRefresh(tokens.refresh_token);
    expect(retried.status, retried.body.message).toBe(200);
  });

  it('a record locked by another session (a manual edit left open): 503 at statement_timeout naming the lock, then 200 once it ends', async () => {
    const tokens = await signIn(lanyard, idp, setup.connection.sid, AGENTS[1]!.id);
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${new URL(db.url).searchParams.get('schema')}.records IN EXCLUSIVE MODE`);
      const locked = await timedRefresh(tokens.refresh_token);
      expect(locked).toMatchObject({ status: 503, retryAfter: expect.any(String) });
      expect(locked.body.message).toMatch(/PostgreSQL cancelled a statement .*it waited for a lock another session holds/);
      expect(locked.ms).toBeLessThan(6_000);
      await holder.query('ROLLBACK');
      const retried = await timedRefresh(tokens.refresh_token);
      expect(retried.status, retried.body.message).toBe(200);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });
});

describe('PostgreSQL: a migration changes a column type under a running node', () => {
  let idp: DevIdp;
  let db: TestDatabase;
  let lanyard: TestLanyard;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: AGENTS });
    db = await createTestDatabase('postgres');
    lanyard = await start(db.url);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await db?.drop();
    await idp?.close();
  });

  it('refreshes answer 200 or a retryable 503, never 500, and every agent refreshes again at once', { timeout: 60_000 }, async () => {
    const setup = await setupAccount(lanyard, idp);
    const agents = await Promise.all(AGENTS.map(async (agent) => ({ tokens: await signIn(lanyard, idp, setup.connection.sid, agent.id) })));
    // Twelve agents refreshing together, twice: the node's pool connections have prepared the statements.
    for (let round = 0; round < 2; round++) {
      await Promise.all(
        agents.map(async (agent) => {
          const refreshed = await refreshTokens(lanyard, setup.connection.sid, agent.tokens.refresh_token);
          expect(refreshed.status).toBe(200);
          agent.tokens = refreshed.body as typeof agent.tokens;
        }),
      );
    }
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const schema = new URL(db.url).searchParams.get('schema')!;
    // Another node's migration: byte-order collation on the key. Was: "cached plan must not change
    // result type", a 500 on every refresh on every connection, until the node restarted.
    await admin.query(`ALTER TABLE ${schema}.records ALTER COLUMN id TYPE TEXT COLLATE "C"`);
    await admin.end();
    const statuses: number[] = [];
    await Promise.all(
      agents.map(async (agent) => {
        for (let attempt = 0; attempt < 3; attempt++) {
          const refreshed = await refreshTokens(lanyard, setup.connection.sid, agent.tokens.refresh_token);
          statuses.push(refreshed.status);
          if (refreshed.status === 200) {
            agent.tokens = refreshed.body as typeof agent.tokens;
            return;
          }
        }
      }),
    );
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(statuses.filter((status) => status === 200)).toHaveLength(AGENTS.length);
    for (const agent of agents) expect((await refreshTokens(lanyard, setup.connection.sid, agent.tokens.refresh_token)).status).toBe(200);
  });
});

describe('SQLite on a full or read-only disk', () => {
  let idp: DevIdp;
  let dir: string;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: AGENTS });
  });
  afterAll(async () => {
    await idp?.close();
  });

  it('answers 503 naming a full disk, then recovers once space is freed', { timeout: 30_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'lanyard-full-'));
    const mounted = tryMount(dir, 'size=2m');
    const lanyard = await start(`sqlite:${join(dir, 'lanyard.db')}`);
    try {
      const setup = await setupAccount(lanyard, idp);
      const tokens = await signIn(lanyard, idp, setup.connection.sid, AGENTS[0]!.id);
      const filler = join(dir, 'filler');
      if (mounted) {
        // Fill the real filesystem: the next write to the database or its WAL fails with ENOSPC.
        try {
          execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
        } catch {
          // dd stops with "No space left on device": that is the point.
        }
      } else {
        (lanyard.services.storage as unknown as { db: { pragma(s: string): void } }).db.pragma('max_page_count = 1');
      }
      let answer: { status: number; body: Record<string, unknown> } | undefined;
      for (let i = 0; i < 50 && answer?.status !== 503; i++) {
        // Logins write several records; keep signing in until the WAL cannot grow any more.
        const login = await flexLogin(lanyard, idp, setup.connection.sid, AGENTS[1]!.id).catch((error: Error) => ({ error }));
        if ('error' in login) {
          const match = /answered (\d+): (.*)$/s.exec(login.error.message);
          answer = { status: Number(match?.[1]), body: JSON.parse(match?.[2] ?? '{}') as Record<string, unknown> };
        } else {
          answer = await exchangeCode(lanyard, setup.connection.sid, login);
        }
      }
      expect(answer).toMatchObject({ status: 503, body: { code: 20503, message: expect.stringMatching(/disk is full/) } });
      let refreshToken = tokens.refresh_token;
      if (mounted) {
        // On a full filesystem a refresh is refused once it needs space the files do not already
        // hold: a few grants may first fit in space the database or its WAL (checkpointed in the
        // background, so rewritten from its start) already has, each answering a real, rotated
        // token (one CI run saw that). (SQLite's page cap only stops the file growing, so the
        // fallback skips this check.)
        let refused = await refreshTokens(lanyard, setup.connection.sid, refreshToken);
        for (let i = 0; i < 50 && refused.status === 200; i++) {
          refreshToken = String(refused.body.refresh_token);
          refused = await refreshTokens(lanyard, setup.connection.sid, refreshToken);
        }
        expect(refused.status).toBe(503);
        expect(refused.body.message).toMatch(/disk is full/);
      }

      if (mounted) rmSync(filler);
      else (lanyard.services.storage as unknown as { db: { pragma(s: string): void } }).db.pragma('max_page_count = 1073741823');
      // The refused refresh spent nothing: the same token works once space is freed.
      const again = await refreshTokens(lanyard, setup.connection.sid, refreshToken);
      expect(again.status).toBe(200);
      console.log('disk full simulated with', mounted ? 'a 2 MB tmpfs filled by dd' : 'PRAGMA max_page_count');
    } finally {
      // Never leave a mount behind, whatever failed above.
      await lanyard.stop().catch(() => undefined);
      if (mounted) unmount(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a read-only volume with a message naming the file and the cause', { timeout: 30_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'lanyard-ro-'));
    const mounted = tryMount(dir, 'size=2m');
    try {
      const file = join(dir, 'lanyard.db');
      const first = await start(`sqlite:${file}`);
      try {
        await first.services.accounts.createAccount('Read-only test');
      } finally {
        await first.stop();
      }
      if (mounted) execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
      else mkdirSync(dir, { recursive: true });
      if (!mounted) return; // Without root there is no read-only volume to mount; the live case below still runs.
      await expect(start(`sqlite:${file}`)).rejects.toThrow(
        `cannot open the SQLite database ${file} for writing (SQLITE_CANTOPEN): the directory is on a read-only filesystem and the file is on a read-only filesystem`,
      );
    } finally {
      if (mounted) execFileSync('umount', ['--lazy', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 503 naming a read-only database when writes are refused while running', async () => {
    // A volume cannot be remounted read-only under open files; SQLite's query_only pragma makes
    // the same SQLITE_READONLY failure on the live connection.
    dir = mkdtempSync(join(tmpdir(), 'lanyard-ro-live-'));
    const lanyard = await start(`sqlite:${join(dir, 'lanyard.db')}`);
    try {
      const setup = await setupAccount(lanyard, idp);
      const tokens = await signIn(lanyard, idp, setup.connection.sid, AGENTS[2]!.id);
      const db = (lanyard.services.storage as unknown as { db: { pragma(s: string): void } }).db;
      db.pragma('query_only = ON');
      const refused = await refreshTokens(lanyard, setup.connection.sid, tokens.refresh_token);
      expect(refused).toMatchObject({ status: 503, body: { code: 20503, message: expect.stringMatching(/read-only/) } });
      const ready = await fetch(`${lanyard.url}/readyz`);
      expect(ready.status).toBe(200); // reads still work: the node is up, writes are what fail
      db.pragma('query_only = OFF');
      expect((await refreshTokens(lanyard, setup.connection.sid, tokens.refresh_token)).status).toBe(200);
    } finally {
      await lanyard.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('graceful shutdown', () => {
  let idp: DevIdp;
  let dir: string;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: AGENTS });
    dir = mkdtempSync(join(tmpdir(), 'lanyard-drain-'));
  });
  afterAll(async () => {
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A POST whose body arrives in two parts, `gap` ms apart: in flight for at least that long. */
  function slowPost(url: string, body: string, gap: number): Promise<{ status: number; connection: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), gap);
    });
  }

  it('lets an in-flight request finish, answers readyz 503 while draining, then refuses connections', { timeout: 30_000 }, async () => {
    const lanyard = (await start(`sqlite:${join(dir, 'drain.db')}`, { LANYARD_SHUTDOWN_TIMEOUT: '10' })) as unknown as TestLanyard & Lanyard;
    const setup = await setupAccount(lanyard, idp);
    const tokens = await signIn(lanyard, idp, setup.connection.sid, AGENTS[3]!.id);
    const slow = slowPost(
      `${lanyard.url}/v1/Flex/OAuth/Tokens`,
      JSON.stringify({ grant_type: 'RefreshToken', refresh_token: tokens.refresh_token, sso_profile_sid: setup.connection.sid }),
      1_500,
    );
    await sleep(300);
    expect(lanyard.services.lifecycle.inFlight).toBe(1);
    const closing = lanyard.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await sleep(100);
    const ready = await lanyard.app.fetch(new Request(`${lanyard.url}/readyz`));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    await expect(fetch(`${lanyard.url}/healthz`)).rejects.toThrow();
    expect(closed).toBe(false);
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toHaveProperty('refresh_token');
    expect(answer.connection).toBe('close');
    await closing;
  });

  it('cuts a request that outlives LANYARD_SHUTDOWN_TIMEOUT', { timeout: 30_000 }, async () => {
    const lanyard = (await start(`sqlite:${join(dir, 'cut.db')}`, { LANYARD_SHUTDOWN_TIMEOUT: '1' })) as unknown as TestLanyard & Lanyard;
    const stuck = slowPost(
      `${lanyard.url}/v1/Flex/OAuth/Tokens`,
      JSON.stringify({ grant_type: 'RefreshToken', refresh_token: 'x', sso_profile_sid: 'y' }),
      20_000,
    ).catch((error: Error) => error);
    await sleep(300);
    const started = Date.now();
    await lanyard.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3_000);
    expect(await stuck).toBeInstanceOf(Error);
  });
});
