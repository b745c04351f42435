import { startChild, type Child } from '../lib/child.ts';
import { freshDatabase, type Backend } from '../lib/database.ts';
import { load, rotatingRefresh, type LoadResult } from '../lib/load.ts';
import type { Line } from '../lib/report.ts';
import { alternate, median, ratioOf, sideSummary, type Sample } from '../lib/rounds.ts';
import { startLanyardUnderTest, type Settings } from '../lib/setup.ts';

const summary = (r: LoadResult, failures: number) =>
  `${Math.round(r.rps).toLocaleString('en')} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms${r.errors || failures ? `, ${r.errors + failures} errors` : ''}`;
const readJsonToken = (key: string) => (body: string) => {
  try {
    return (JSON.parse(body) as Record<string, string>)[key];
  } catch {
    return undefined;
  }
};

/** Rotating refresh grants at Lanyard's Flex token endpoint, over the sessions' `tokens`. */
export function lanyardRefreshes(tokens: string[], connectionSid: string): ReturnType<typeof rotatingRefresh> {
  return rotatingRefresh(
    tokens,
    (t) => JSON.stringify({ grant_type: 'RefreshToken', refresh_token: t, sso_profile_sid: connectionSid }),
    readJsonToken('refresh_token'),
  );
}

/** Rotating refresh grants at oidc-provider's token endpoint (its public bench client), over `tokens`. */
export function providerRefreshes(tokens: string[]): ReturnType<typeof rotatingRefresh> {
  return rotatingRefresh(
    tokens,
    (t) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t, client_id: 'bench-desktop' }).toString(),
    readJsonToken('refresh_token'),
  );
}

/**
 * Refresh grants with rotation: each request presents the latest refresh token of a session
 * that no other in-flight request holds, and keeps the successor from the answer. Lanyard, the
 * raw cost and oidc-provider run in alternating rounds; each keeps its sessions across rounds.
 */
export async function refreshLines(idp: Child, settings: Settings): Promise<Line[]> {
  const sessions = settings.quick ? 200 : 1_000;
  const lines: Line[] = [];
  const provider = await startChild('oidc-provider');
  try {
    // Its default memory adapter is an LRU of 1,000 entries: with more live sessions than fit,
    // grants are evicted and refreshes fail. 200 sessions stay inside it (grant + live token each; a round's cut-off in-flight requests lose up to 10).
    const providerTokens = await provider.call<string[]>('sessions', { count: 200 });
    const providerLoad = providerRefreshes(providerTokens);
    const runProvider = sampler(providerLoad, settings, {
      url: `${provider.url}/token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    for (const backend of ['sqlite', 'postgres'] as Backend[]) {
      const label = backend === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      const lanyard = await startLanyardUnderTest(backend, idp, { label: 'refresh' });
      const rawDb = await freshDatabase(backend);
      const raw = await startChild('baseline', { compiled: true, env: { BENCH_DATABASE_URL: rawDb.url } });
      // The same raw cost reading its body from Node's request as Lanyard does (http/request-body.ts)
      // and, on SQLite, checkpointing its WAL on a worker thread as Lanyard does (storage/wal-checkpointer.ts).
      const rawNodeReaderDb = await freshDatabase(backend);
      const rawNodeReader = await startChild('baseline', {
        compiled: true,
        env: {
          BENCH_DATABASE_URL: rawNodeReaderDb.url,
          BENCH_BODY_READER: 'node',
          ...(backend === 'sqlite' ? { BENCH_RAW_CHECKPOINTS: 'worker' } : {}),
        },
      });
      try {
        const tokens = await lanyard.child.call<string[]>('sessions', { ...lanyard.account, count: sessions, returnTokens: true });
        const lanyardLoad = lanyardRefreshes(tokens, lanyard.account.connectionSid);
        const rawTokens = await raw.call<string[]>('sessions', { count: sessions });
        const rawLoad = rotatingRefresh(rawTokens, (t) => JSON.stringify({ refresh_token: t }), readJsonToken('refresh_token'));
        const rawNodeReaderTokens = await rawNodeReader.call<string[]>('sessions', { count: sessions });
        const rawNodeReaderLoad = rotatingRefresh(rawNodeReaderTokens, (t) => JSON.stringify({ refresh_token: t }), readJsonToken('refresh_token'));
        const json = { 'content-type': 'application/json' };
        const [vsRaw, vsProvider, vsRawNodeReader] = await alternate(
          sampler(lanyardLoad, settings, { url: `${lanyard.child.url}/v1/Flex/OAuth/Tokens`, headers: json }),
          [
            sampler(rawLoad, settings, { url: `${raw.url}/refresh`, headers: json }),
            runProvider,
            sampler(rawNodeReaderLoad, settings, { url: `${rawNodeReader.url}/refresh`, headers: json }),
          ],
          { rounds: settings.rounds },
        );
        const rps = (v: number) => `${Math.round(v).toLocaleString('en')} req/s`;
        const p99s = (samples: Sample[]) => samples.map((x) => (x as LoadSample).p99);
        const lanyardP99 = median(p99s(vsRaw!.a));
        const rawP99 = median(p99s(vsRaw!.b));
        const p99Ratios = vsRaw!.a.map((x, i) => (x as LoadSample).p99 / Math.max(1, (vsRaw!.b[i] as LoadSample).p99));
        lines.push(
          {
            section: '',
            name: `Refresh grant throughput, ${label} vs raw cost`,
            lanyard: sideSummary(vsRaw!.a, rps),
            baseline: `ES256 sign + spend/insert transaction on ${label}: ${sideSummary(vsRaw!.b, rps)}`,
            ...ratioOf(vsRaw!),
            better: 'higher',
            note: `raw cost = the same framework, one transaction (UPDATE spent + INSERT successor), one ES256 JWT, body read with c.req.json(); ${settings.rounds} rounds of ${settings.durationSeconds} s a side`,
          },
          {
            section: '',
            name: `Refresh grant throughput, ${label} vs raw cost reading its body${backend === 'sqlite' ? ' and checkpointing' : ''} as Lanyard does`,
            lanyard: sideSummary(vsRawNodeReader!.a, rps),
            baseline: `the same raw cost, body read from Node's request${backend === 'sqlite' ? ', WAL checkpoints on a worker thread' : ''}: ${sideSummary(vsRawNodeReader!.b, rps)}`,
            ...ratioOf(vsRawNodeReader!),
            better: 'higher',
            note: `the same Lanyard rounds as the line above; both sides read the body straight from Node's IncomingMessage (no WHATWG Request)${backend === 'sqlite' ? " and checkpoint SQLite's WAL on a worker thread (storage/wal-checkpointer.ts)" : ''}`,
          },
          {
            section: '',
            name: `Refresh grant p99 latency, ${label} vs raw cost`,
            lanyard: `p99 ${lanyardP99} ms (median of rounds)`,
            baseline: `p99 ${rawP99} ms`,
            ratio: median(p99Ratios),
            range: [Math.min(...p99Ratios), Math.max(...p99Ratios)],
            rounds: p99Ratios,
            better: 'lower',
            note: `${settings.connections} connections; autocannon ms resolution`,
          },
          {
            section: '',
            name: `Refresh grant throughput, ${label} vs oidc-provider`,
            lanyard: sideSummary(vsProvider!.a, rps),
            baseline: `oidc-provider 9 (memory adapter): ${sideSummary(vsProvider!.b, rps)}`,
            ...ratioOf(vsProvider!),
            better: 'higher',
            note: 'oidc-provider defaults: opaque access token, RS256 ID token, rotation for public clients, in memory; 200 sessions (its memory adapter is a 1,000-entry LRU)',
          },
        );
      } finally {
        await rawNodeReader.stop();
        await rawNodeReaderDb.drop();
        await raw.stop();
        await rawDb.drop();
        await lanyard.stop();
      }
    }
  } finally {
    await provider.stop();
  }
  return lines;
}

interface LoadSample extends Sample {
  p99: number;
}

/** One round of rotating-refresh load on one server; the sessions carry over to its next round. */
function sampler(
  rotating: ReturnType<typeof rotatingRefresh>,
  settings: Settings,
  target: { url: string; headers: Record<string, string> },
): () => Promise<LoadSample> {
  return async () => {
    const before = rotating.failures();
    const r = await load({
      url: target.url,
      method: 'POST',
      headers: target.headers,
      durationSeconds: settings.durationSeconds,
      connections: settings.connections,
      requests: rotating.requests,
    });
    return { value: r.rps, p99: r.p99, detail: summary(r, rotating.failures() - before), errors: r.errors + rotating.failures() - before };
  };
}
