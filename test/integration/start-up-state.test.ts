import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig, startLanyard } from '../../packages/server/src/index.ts';
import { BACKENDS, POSTGRES_URL, createTestDatabase } from '../support/backends.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
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
        expect((await fetch(`${base}/readyz`)).status).toBe(200);
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
