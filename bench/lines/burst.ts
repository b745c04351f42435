import type { Child } from '../lib/child.ts';
import { idpLogin, lanyardAuthorize, lanyardComplete, roundRobin } from '../lib/login.ts';
import type { Line } from '../lib/report.ts';
import { startLanyardUnderTest, type LanyardUnderTest, type Settings } from '../lib/setup.ts';

/** The address agents' browsers use; a round-robin "load balancer" maps it to the nodes. */
const PUBLIC_URL = 'http://127.0.0.1:9';

interface BurstResult {
  drainSeconds: number;
  p50: number;
  p99: number;
  errors: number;
  firstError?: string;
}

/**
 * N agents arriving evenly over the window, each doing the whole login as a browser would
 * (authorize → dev IdP → ACS → code exchange), every request sent to the next node.
 */
async function runBurst(nodes: string[], connectionSid: string, idpUrl: string, agents: number, windowSeconds: number): Promise<BurstResult> {
  const target = { publicUrl: PUBLIC_URL, connectionSid, balance: roundRobin(PUBLIC_URL, nodes) };
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: agents }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, (i * windowSeconds * 1000) / agents));
      const t0 = performance.now();
      try {
        const pending = await lanyardAuthorize(target, `agent${i % 100}@bench.example`);
        const form = await idpLogin(idpUrl, pending);
        await lanyardComplete(target, pending, form);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message.slice(0, 160);
      }
    }),
  );
  const drainSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { drainSeconds, p50: at(0.5), p99: at(0.99), errors, firstError };
}

export async function burst(idp: Child, settings: Settings): Promise<Line[]> {
  const { burstAgents: n, burstWindowSeconds: w } = settings;
  const results: Array<{ nodes: number; r: BurstResult }> = [];
  for (const count of [1, 3]) {
    const first = await startLanyardUnderTest('postgres', idp, { label: `burst${count}`, publicUrl: PUBLIC_URL });
    const others: LanyardUnderTest[] = [];
    try {
      for (let i = 1; i < count; i++)
        others.push(await startLanyardUnderTest('postgres', idp, { label: `burst${count}`, publicUrl: PUBLIC_URL, databaseUrl: first.db.url }));
      const nodes = [first, ...others].map((node) => node.child.url);
      results.push({ nodes: count, r: await runBurst(nodes, first.account.connectionSid, idp.url, n, w) });
    } finally {
      for (const node of others) await node.stop();
      await first.stop();
    }
  }
  const describe = ({ r }: { r: BurstResult }) =>
    `drained in ${r.drainSeconds.toFixed(1)} s; login p50 ${r.p50} ms, p99 ${r.p99} ms; ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`;
  const lines: Line[] = results.map((result) => ({
    section: '',
    name: `Shift-change burst: ${n.toLocaleString('en')} agents in ${w} s, ${result.nodes} node${result.nodes > 1 ? 's' : ''} (PostgreSQL)`,
    lanyard: describe(result),
    baseline: `arrival window ${w} s`,
    ratio: result.r.errors === n ? null : result.r.drainSeconds / w,
    better: 'lower',
    note: 'ratio = drain time ÷ arrival window (1.0 = kept pace); whole login including the dev IdP',
  }));
  const [one, three] = results;
  if (one && three) {
    lines.push({
      section: '',
      name: 'Burst login p99, 3 nodes vs 1 node',
      lanyard: `3 nodes: p99 ${three.r.p99} ms`,
      baseline: `1 node: p99 ${one.r.p99} ms`,
      ratio: three.r.p99 / Math.max(1, one.r.p99),
      better: 'lower',
      note: "all nodes share the machine's cores with PostgreSQL, the IdP and the load generator",
    });
  }
  return lines;
}
