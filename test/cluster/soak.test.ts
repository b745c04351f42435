import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { loadConfig } from '../../packages/server/src/config.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { createServices, type Services } from '../../packages/server/src/services.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { setupAccount } from '../support/flows.ts';
import type { TestLanyard } from '../support/lanyard.ts';
import { Balancer, loginThrough, refreshThrough } from './support/balancer.ts';
import { startNode, type LanyardNode } from './support/nodes.ts';

/**
 * A bounded soak: agents sign in and refresh in a loop against one `lanyard serve` process on
 * PostgreSQL for LANYARD_SOAK_SECONDS (60 by default; 300 for the run recorded in
 * docs/operations.md). Memory is read from the node's own /metrics; every failure counts.
 */
const SECONDS = Number(process.env.LANYARD_SOAK_SECONDS ?? 60);
const WORKERS = 4;
const REFRESHES_PER_LOGIN = 10;
const AGENTS = Array.from({ length: 20 }, (_, i) => ({
  id: `soak${i}@example.com`,
  full_name: `Soak ${i}`,
  email: `soak${i}@example.com`,
  roles: ['agent'],
}));

async function memory(node: LanyardNode): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${node.origin}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  return { rss: read('process_resident_memory_bytes'), heap: read('nodejs_heap_used_bytes') };
}
const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

describe(`soak: ${SECONDS} s of sign-ins and refreshes on one node`, () => {
  let idp: DevIdp;
  let db: TestDatabase;
  let node: LanyardNode;
  let admin: Services;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: AGENTS });
    db = await createTestDatabase('postgres');
    const env = {
      LANYARD_DATABASE_URL: db.url,
      LANYARD_SECRET_KEY: randomBytes(32).toString('base64'),
      // One loopback address and 20 agents drive a tight loop: it measures the server, not the
      // per-address, per-user and per-session limits, which such a loop could reach on a fast machine.
      LANYARD_RATE_LIMIT_LOGIN: '0',
      LANYARD_RATE_LIMIT_TOKEN: '0',
      LANYARD_RATE_LIMIT_USER_SIGN_INS: '0',
      LANYARD_RATE_LIMIT_REFRESH_FAMILY: '0',
      LANYARD_LOG_LEVEL: 'warn',
      // A bounded old space makes V8 collect as a production container would; without it the heap
      // grows lazily for minutes and a reading says little. A real leak ends in an OOM crash here.
      NODE_OPTIONS: '--max-old-space-size=128',
    };
    node = await startNode('soak', env);
    admin = await createServices(loadConfig({ ...env, LANYARD_PUBLIC_URL: node.origin }), { logger: jsonLogger('silent') });
    setup = await setupAccount({ services: admin } as unknown as TestLanyard, idp);
  }, 60_000);

  afterAll(async () => {
    node?.kill('SIGTERM');
    await node?.exited;
    await admin?.storage.close();
    await db?.drop();
    await idp?.close();
  });

  it('keeps answering without errors and without growing its heap', { timeout: (SECONDS + 60) * 1000 }, async () => {
    const balancer = new Balancer([node]);
    const stats = { logins: 0, refreshes: 0, errors: [] as string[] };
    const latencies: number[] = [];
    // Warm up (JIT, pools, caches) before the baseline is taken.
    for (const agent of AGENTS.slice(0, 4)) await loginThrough(balancer, node.origin, idp, setup.connection.sid, agent.id, () => 0);
    const start = await memory(node);
    const samples = [start];
    const deadline = Date.now() + SECONDS * 1000;
    const sampler = setInterval(
      () =>
        void memory(node).then(
          (m) => samples.push(m),
          () => undefined,
        ),
      10_000,
    );

    const worker = async (w: number) => {
      for (let round = 0; Date.now() < deadline && stats.errors.length < 10; round++) {
        const agent = AGENTS[(w + round * WORKERS) % AGENTS.length]!;
        try {
          let started = performance.now();
          let tokens = (await loginThrough(balancer, node.origin, idp, setup.connection.sid, agent.id, () => 0)).tokens;
          latencies.push(performance.now() - started);
          stats.logins++;
          for (let i = 0; i < REFRESHES_PER_LOGIN && Date.now() < deadline; i++) {
            started = performance.now();
            const refreshed = await refreshThrough(balancer, node.origin, setup.connection.sid, tokens.refresh_token, 0);
            latencies.push(performance.now() - started);
            if (refreshed.status !== 200) throw new Error(`refresh ${refreshed.status}: ${JSON.stringify(refreshed.body)}`);
            tokens = refreshed.body;
            stats.refreshes++;
          }
        } catch (error) {
          stats.errors.push((error as Error).message.slice(0, 300));
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    clearInterval(sampler);
    const end = await memory(node);
    samples.push(end);
    latencies.sort((x, y) => x - y);
    const report = {
      seconds: SECONDS,
      logins: stats.logins,
      refreshes: stats.refreshes,
      operationsPerSecond: Math.round(((stats.logins + stats.refreshes) / SECONDS) * 10) / 10,
      errors: stats.errors.length,
      latencyMs: {
        p50: Math.round(percentile(latencies, 0.5)),
        p95: Math.round(percentile(latencies, 0.95)),
        p99: Math.round(percentile(latencies, 0.99)),
      },
      rssMb: { start: mb(start.rss), end: mb(end.rss), max: mb(Math.max(...samples.map((s) => s.rss))) },
      heapMb: { start: mb(start.heap), end: mb(end.heap), max: mb(Math.max(...samples.map((s) => s.heap))) },
    };
    console.log('soak report', JSON.stringify(report));

    expect(stats.errors).toEqual([]);
    expect(stats.logins).toBeGreaterThan(0);
    expect(stats.refreshes).toBeGreaterThan(stats.logins);
    // Garbage collection makes single readings noisy; a leak of a few KB per operation would still show here.
    expect(end.heap - start.heap).toBeLessThan(64 * 1048576);
    expect(end.rss).toBeLessThan(512 * 1048576);
  });
});
