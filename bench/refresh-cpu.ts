/**
 * Where a refresh grant's CPU goes: Lanyard's process, PostgreSQL's processes and the load
 * generator, per grant, against oidc-provider in memory, in alternating rounds. What the
 * throughput ratios of `npm run bench` do not show: which process pays.
 *
 * Usage: node --import tsx bench/refresh-cpu.ts [postgres|sqlite] [rounds, default 3]
 * PostgreSQL as for `npm run bench`: BENCH_POSTGRES_URL, or postgres://postgres@127.0.0.1:5432/test.
 * Linux only (/proc). One warm-up round of each side, not counted, then `rounds` rounds of 4 s a
 * side, 10 connections, the order flipped every round. Prints per round and side: grants per
 * second, µs of CPU per grant of the server's process, of every process named `postgres` on the
 * machine (Lanyard's line only) and of this process (the load generator), and failed grants.
 * At the end, on PostgreSQL: commits, inserts and updates per Lanyard grant over the counted
 * rounds, from pg_stat_database (every database of the server, read 11 s after the rounds, once
 * PostgreSQL has flushed its backends' counters): run it on an otherwise idle server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { startChild } from './lib/child.ts';
import { POSTGRES_URL, type Backend } from './lib/database.ts';
import { load } from './lib/load.ts';
import { processCpuMs } from './lib/process-cpu.ts';
import { lanyardRefreshes, providerRefreshes } from './lines/refresh.ts';
import { startLanyardUnderTest } from './lib/setup.ts';

const [backendArg = 'postgres', roundsArg = '3'] = process.argv.slice(2);
if (backendArg !== 'postgres' && backendArg !== 'sqlite') throw new Error('usage: refresh-cpu.ts [postgres|sqlite] [rounds]');
const backend: Backend = backendArg;
const rounds = Number(roundsArg);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a whole number of at least 1, got "${roundsArg}"`);

/** CPU of every process named `postgres`, by pid: summed only over pids alive at both reads (a backend that exits between them would count negative). */
function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') byPid.set(Number(entry), processCpuMs(Number(entry)) ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return byPid;
}
function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of postgresCpu()) total += cpu - (before.get(pid) ?? 0);
  return total;
}

const stats = backend === 'postgres' ? new pg.Client({ connectionString: POSTGRES_URL }) : undefined;
/** PostgreSQL's transaction counters, once its backends have flushed them (an idle backend flushes within 10 s). */
async function databaseCounters(): Promise<Record<string, number>> {
  if (!stats) return {};
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const { rows } = await stats.query<Record<string, string>>(
    'SELECT sum(xact_commit) AS commits, sum(tup_inserted) AS inserts, sum(tup_updated) AS updates FROM pg_stat_database',
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

const children: Array<{ stop(): Promise<void> }> = [];
let stopping: Promise<void> | undefined;
/** Stops every server this script started (and drops Lanyard's database), once. */
function stopAll(): Promise<void> {
  stopping ??= Promise.allSettled([...children].reverse().map((child) => child.stop())).then(() => stats?.end().catch(() => undefined));
  return stopping;
}
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => void stopAll().finally(() => process.exit(code)));
}

try {
  await stats?.connect();
  const idp = await startChild('dev-idp');
  children.push(idp);
  const provider = await startChild('oidc-provider');
  children.push(provider);
  const lanyard = await startLanyardUnderTest(backend, idp, { label: 'refresh-cpu' });
  children.push(lanyard);
  const lanyardTokens = await lanyard.child.call<string[]>('sessions', { ...lanyard.account, count: 1_000, returnTokens: true });
  const lanyardLoad = lanyardRefreshes(lanyardTokens, lanyard.account.connectionSid);
  // Its memory adapter is a 1,000-entry LRU: 200 sessions stay inside it (bench/lines/refresh.ts).
  const providerLoad = providerRefreshes(await provider.call<string[]>('sessions', { count: 200 }));
  const sides = [
    {
      name: 'lanyard',
      pid: lanyard.child.process.pid!,
      url: `${lanyard.child.url}/v1/Flex/OAuth/Tokens`,
      type: 'application/json',
      work: lanyardLoad,
    },
    {
      name: 'oidc-provider',
      pid: provider.process.pid!,
      url: `${provider.url}/token`,
      type: 'application/x-www-form-urlencoded',
      work: providerLoad,
    },
  ];
  let lanyardGrants = 0;
  let countersBefore: Record<string, number> = {};
  for (let round = 0; round <= rounds; round++) {
    // After the warm-up: the counters the counted rounds start from.
    if (round === 1) countersBefore = await databaseCounters();
    for (const side of round % 2 ? [...sides].reverse() : sides) {
      const [serverBefore, postgresBefore, generatorBefore] = [processCpuMs(side.pid) ?? 0, postgresCpu(), process.cpuUsage()];
      const failuresBefore = side.work.failures();
      const result = await load({
        url: side.url,
        method: 'POST',
        headers: { 'content-type': side.type },
        durationSeconds: 4,
        requests: side.work.requests,
      });
      const [server, postgres, generator] = [
        (processCpuMs(side.pid) ?? 0) - serverBefore,
        postgresCpuSince(postgresBefore),
        process.cpuUsage(generatorBefore),
      ];
      // Round 0 warms both sides up and is not reported.
      if (round === 0) continue;
      if (side.name === 'lanyard') lanyardGrants += result.requests;
      const perGrant = (ms: number) => `${Math.round((ms * 1000) / result.requests)} µs`;
      console.log(
        `round ${round} ${side.name}: ${Math.round(result.rps)} grants/s; CPU a grant: server ${perGrant(server)}` +
          (backend === 'postgres' && side.name === 'lanyard' ? `, PostgreSQL ${perGrant(postgres)}` : '') +
          `, load generator ${perGrant((generator.user + generator.system) / 1000)}; failed ${result.errors + side.work.failures() - failuresBefore}`,
      );
    }
  }
  if (stats) {
    const counters = await databaseCounters();
    const perGrant = Object.keys(counters).map((k) => `${k} ${((counters[k]! - countersBefore[k]!) / lanyardGrants).toFixed(2)}`);
    console.log(`PostgreSQL per Lanyard grant over the counted rounds: ${perGrant.join(', ')}`);
  }
} finally {
  await stopAll();
}
