import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig, startLanyard } from '../../packages/server/src/index.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { BACKENDS, POSTGRES_URL, createTestDatabase } from '../support/backends.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Polls /readyz (every 20 ms, up to 30 s) until it answers anything but 503; returns that status. */
async function untilReady(base: string): Promise<number> {
  for (let i = 0; i < 1_500; i++) {
    const answer = await fetch(`${base}/readyz`);
    if (answer.status !== 503) return answer.status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return 503;
}

describe('once a node serves, while it warms up (SAML workers and modules loading)', () => {
  it('serves every request but answers /readyz 503 "warming" until its SAML workers answer, then 200', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanyard-warm-up-'));
    const lanyard = await startLanyard(
      loadConfig(
        { LANYARD_PORT: '0', LANYARD_DATABASE_URL: `sqlite:${join(dir, 'lanyard.db')}`, LANYARD_SAML_WORKERS: '1' },
        { secretKey: randomBytes(32) },
      ),
      { logger: jsonLogger('silent') },
    );
    try {
      // Asked at once: the workers take a few hundred ms to start, so the node is still warming.
      const first = await fetch(`${lanyard.url}/readyz`);
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBe('1');
      expect(await first.json()).toEqual({ status: 'warming', database: { backend: 'sqlite' } });
      expect(lanyard.services.samlVerification.workersAnswering).toBe(false);
      // Served meanwhile: warming only tells a balancer to wait.
      const lookup = await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=AC00000000000000000000000000000000`);
      expect(lookup.status).toBe(200);
      expect((await fetch(`${lanyard.url}/healthz`)).status).toBe(200);
      expect(await untilReady(lanyard.url)).toBe(200);
      // Ready means warm: the workers answered their start-up check before /readyz said so.
      expect(lanyard.services.samlVerification.workersAnswering).toBe(true);
      expect(await (await fetch(`${lanyard.url}/readyz`)).json()).toEqual({ status: 'ready', database: { backend: 'sqlite', reachable: true } });
    } finally {
      await lanyard.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('while a node starts (its database migrating)', () => {
  it.runIf(BACKENDS.includes('postgres'))('is alive (/healthz 200) but not ready (/readyz and every route 503 "starting"), then ready', async () => {
    const db = await createTestDatabase('postgres');
    const schema = new URL(db.url).searchParams.get('schema')!;
    // Another start holds this schema's migration lock, so this one waits inside its migrations.
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [`lanyard_migrations:${schema}`]);
    const port = await freePort();
    const starting = startLanyard(loadConfig({ LANYARD_PORT: String(port), LANYARD_DATABASE_URL: db.url }, { secretKey: randomBytes(32) }));
    try {
      const base = `http://127.0.0.1:${port}`;
      let health: Response | undefined;
      for (let i = 0; i < 50 && !health; i++) {
        health = await fetch(`${base}/healthz`).catch(() => undefined);
        if (!health) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(health?.status).toBe(200);
      expect(await health?.json()).toEqual({ status: 'starting' });
      for (const path of ['/readyz', '/v1/Flex/Authentication/Config?AccountSid=AC00000000000000000000000000000000']) {
        const answer = await fetch(`${base}${path}`);
        expect(answer.status, path).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('1');
        expect(await answer.json()).toEqual({ status: 'starting' });
      }
      await holder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`lanyard_migrations:${schema}`]);
      const lanyard = await starting;
      try {
        expect(await untilReady(base)).toBe(200);
        expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      } finally {
        await lanyard.close();
      }
    } finally {
      await holder.end();
      await starting.then((lanyard) => lanyard.close()).catch(() => undefined);
      await db.drop();
    }
  });
});
