import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Child } from '../lib/child.ts';
import { direct, idpLogin, lanyardAuthorize, lanyardComplete, resentRequests, roundRobin } from '../lib/login.ts';
import type { Backend } from '../lib/database.ts';
import type { Line } from '../lib/report.ts';
import { untilReady } from '../lib/readiness.ts';
import { startLanyardUnderTest, type LanyardUnderTest, type Settings } from '../lib/setup.ts';

/** The address agents' browsers use; a round-robin "load balancer" maps it to the nodes. */
const PUBLIC_URL = 'http://127.0.0.1:9';

interface BurstResult {
  drainSeconds: number;
  p50: number;
  p99: number;
  /** p99 of the logins that started in the first 5 s (nodes that have just started) and of the rest. */
  p99First5s: number;
  p99After5s: number;
  /** p99 of each login's time in Lanyard's requests (authorize, ACS, token) and in the IdP's two. */
  p99Lanyard: number;
  p99Idp: number;
  errors: number;
  firstError?: string;
}

/**
 * N agents arriving evenly over the window, each doing the whole login as a browser would
 * (authorize → dev IdP → ACS → code exchange), every request sent to the next node.
 */
async function runBurst(nodes: string[], connectionSid: string, idpUrl: string, settings: Settings): Promise<BurstResult> {
  const { burstAgents: agents, burstWindowSeconds: windowSeconds } = settings;
  const idpTurns = firstComeFirstServed(settings.burstIdpConcurrency);
  const target = { publicUrl: PUBLIC_URL, connectionSid, balance: roundRobin(PUBLIC_URL, nodes) };
  const latencies: number[] = [];
  const early: number[] = [];
  const late: number[] = [];
  const inLanyard: number[] = [];
  const inIdp: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: agents }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, (i * windowSeconds * 1000) / agents));
      const t0 = performance.now();
      try {
        const pending = await lanyardAuthorize(target, `agent${i % 100}@bench.example`);
        const t1 = performance.now();
        const form = await idpTurns(() => idpLogin(idpUrl, pending));
        const t2 = performance.now();
        await lanyardComplete(target, pending, form);
        const latency = performance.now() - t0;
        latencies.push(latency);
        inIdp.push(t2 - t1);
        inLanyard.push(latency - (t2 - t1));
        (t0 - started < 5_000 ? early : late).push(latency);
      } catch (error) {
        errors++;
        // node:http's errors carry their code themselves; fetch's (the dev IdP's requests) in `cause`.
        const { code, cause } = error as Error & { code?: string; cause?: { code?: string; message?: string } };
        const detail = code ?? cause?.code ?? cause?.message;
        firstError ??= `${(error as Error).message}${detail ? ` (${detail})` : ''}`.slice(0, 160);
      }
    }),
  );
  const drainSeconds = (performance.now() - started) / 1000;
  const at = (xs: number[], q: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  };
  return {
    drainSeconds,
    p50: at(latencies, 0.5),
    p99: at(latencies, 0.99),
    p99First5s: at(early, 0.99),
    p99After5s: at(late, 0.99),
    p99Lanyard: at(inLanyard, 0.99),
    p99Idp: at(inIdp, 0.99),
    errors,
    firstError,
  };
}

/** The two shift-change configurations the issue names: one node on SQLite, three on PostgreSQL. */
const CONFIGURATIONS: Array<{ backend: Backend; nodes: number }> = [
  { backend: 'sqlite', nodes: 1 },
  { backend: 'postgres', nodes: 3 },
];

/*
 * The dev IdP serves `settings.burstIdpConcurrency` logins at once, the rest waiting their turn in
 * the load generator (first come, first served). It stands in for a scaled service on other
 * machines, but it is one Node process on Lanyard's cores, and since libuv PR #3696 (libuv 1.45;
 * Node 20 bundles 1.46) a Node process accepts one new connection per wake-up of its event loop
 * (on Unix): when a burst saturated it, every connection opened beyond the kept-alive ones waited
 * in the kernel's accept queue (measured: 60–170 waiting, the oldest ~55 s) while later logins
 * went through on open connections, and the burst's p99 was that wait. With a few at once the
 * IdP keeps its connections and is served in order.
 *
 * The nodes' threads run `settings.burstNodeNiceness` nicer than the bench (which the dev IdP and
 * the load generator keep). They stand in for what runs on other machines; on shared cores the
 * scheduler weighs threads, and each node brings its main thread and its verification workers
 * against the IdP's one: at the same niceness three nodes crowded the IdP out (its part of a
 * login's p99 13.5 s, Lanyard's 3.3 s) and the burst measured the IdP starved. A thread 5 nicer
 * weighs about a third: the nodes still get every cycle the others leave and crowd the IdP much
 * less. A choice, with a cost to the nodes' own part (docs/benchmarks.md, twelfth round).
 * PostgreSQL is not touched (it runs as its own service).
 */

/**
 * Sets every thread of a process (its main thread, verification workers, V8's own) to
 * `niceness`; threads it starts later inherit it. Returns what the threads run at afterwards,
 * read back: one value when all agree, undefined when they do not (a thread refused, or /proc is
 * not there).
 */
function setNiceness(pid: number, niceness: number): number | undefined {
  const seen = new Set<number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        setPriority(Number(tid), niceness);
        seen.add(getPriority(Number(tid)));
      } catch {
        // The thread ended between the listing and now: nothing to lower.
      }
    }
  } catch {
    return undefined;
  }
  return seen.size === 1 ? [...seen][0] : undefined;
}

/**
 * The dev IdP is not under test, and a cold one held the first seconds of a burst (p99 2.4–10 s
 * in its first second, against 0.2–0.4 s warm, when this section ran alone): its code is
 * compiled here, through a Lanyard node of its own that is stopped before the burst's nodes
 * start cold.
 */
async function warmIdp(idp: Child, logins: number): Promise<void> {
  const node = await startLanyardUnderTest('sqlite', idp, { label: 'burst-idp-warm-up' });
  try {
    const target = { publicUrl: node.child.url, connectionSid: node.account.connectionSid, balance: direct };
    for (let i = 0; i < logins; i++) {
      const pending = await lanyardAuthorize(target, `agent${i % 100}@bench.example`);
      await lanyardComplete(target, pending, await idpLogin(idp.url, pending));
    }
  } finally {
    await node.stop();
  }
}

export async function burst(idp: Child, settings: Settings): Promise<Line[]> {
  const { burstAgents: n, burstWindowSeconds: w, burstNodeNiceness: by } = settings;
  const lines: Line[] = [];
  await warmIdp(idp, settings.quick ? 20 : 200);
  for (const { backend, nodes: count } of CONFIGURATIONS) {
    // Default configuration: the rate limits stay on, as a contact center would run it.
    const env = { BENCH_DEFAULT_LIMITS: '1' };
    const label = `burst${count}`;
    // The deployment exists before the shift: a node sets up the account (and, on the database's
    // first start, creates the signing keys), then stops; the burst's nodes start cold on it.
    const setup = await startLanyardUnderTest(backend, idp, { label: `${label}-setup`, publicUrl: PUBLIC_URL, env });
    await setup.child.stop();
    const nodes: LanyardUnderTest[] = [];
    let r: BurstResult;
    let nicenessNote = '';
    let warmNote = '';
    try {
      // As a load balancer does: sign-ins go to a node once its /readyz says it is warm (each node
      // polled from the moment it serves, while the next one starts).
      const warming: Array<Promise<number>> = [];
      for (let i = 0; i < count; i++) {
        const node = await startLanyardUnderTest(backend, idp, { label, publicUrl: PUBLIC_URL, databaseUrl: setup.db.url, env });
        nodes.push(node);
        const ready = untilReady(node.child.url, { intervalMs: 10, limitMs: 30_000 });
        ready.catch(() => undefined); // awaited below: not unhandled while the next node starts
        warming.push(ready);
      }
      const warmMs = await Promise.all(warming);
      warmNote = `sent once each node's /readyz answered 200 (${warmMs.map((ms) => `${Math.round(ms)} ms`).join(', ')} after it started serving)`;
      const own = getPriority(0);
      const target = Math.min(19, own + by);
      const niceness = by > 0 ? nodes.map((node) => setNiceness(node.child.process.pid!, target)) : [own];
      nicenessNote =
        niceness.every((n) => n === niceness[0]) && niceness[0] !== undefined
          ? `nodes at niceness ${niceness[0]}, the load generator and the IdP at ${own}`
          : `nodes' niceness not uniform (${niceness.map((n) => n ?? '?').join(', ')}), the load generator and the IdP at ${own}`;
      r = await runBurst(
        nodes.map((node) => node.child.url),
        setup.account.connectionSid,
        idp.url,
        settings,
      );
    } finally {
      for (const node of nodes) await node.child.stop();
      await setup.db.drop();
    }
    lines.push({
      section: '',
      name: `Shift-change burst: ${n.toLocaleString('en')} agents in ${w} s from one address, ${count} node${count > 1 ? 's' : ''} (${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
      lanyard: `drained in ${r.drainSeconds.toFixed(1)} s; login p50 ${r.p50} ms, p99 ${r.p99} ms (first 5 s ${r.p99First5s} ms, after ${r.p99After5s} ms; in Lanyard's requests p99 ${r.p99Lanyard} ms, in the IdP's ${r.p99Idp} ms); ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`,
      baseline: `arrival window ${w} s`,
      ratio: r.errors === n ? null : r.drainSeconds / w,
      better: 'lower',
      note: `ratio = drain time ÷ arrival window (1.0 = kept pace); default configuration (rate limits on); node${count > 1 ? 's' : ''} started cold on a deployment set up before (account, connection and signing keys in the database), ${warmNote}; whole login including the dev IdP (on the same cores, ${settings.burstIdpConcurrency} logins at a time, the rest queued in order); ${nicenessNote}; all from 127.0.0.1; requests resent after a connection reset so far: ${resentRequests()}`,
    });
  }
  return lines;
}

/** Runs tasks with at most `limit` at once; the others start in the order they asked. */
function firstComeFirstServed(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      // The slot passes to the oldest waiter as it is (running stays the same), or is freed.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
