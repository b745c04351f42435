import { startChild, type Child } from '../lib/child.ts';
import { freshDatabase, type Backend } from '../lib/database.ts';
import { load, rotatingRefresh, type LoadResult } from '../lib/load.ts';
import type { Line } from '../lib/report.ts';
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

/**
 * Refresh grants with rotation: each request presents the latest refresh token of a session
 * that no other in-flight request holds, and keeps the successor from the answer.
 */
export async function refreshLines(idp: Child, settings: Settings): Promise<Line[]> {
  const sessions = settings.quick ? 200 : 1_000;
  const lines: Line[] = [];
  const provider = await startChild('oidc-provider');
  let providerResult: { r: LoadResult; failures: number } | undefined;
  try {
    for (const backend of ['sqlite', 'postgres'] as Backend[]) {
      const label = backend === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      const lanyard = await startLanyardUnderTest(backend, idp, { label: 'refresh' });
      const rawDb = await freshDatabase(backend);
      const raw = await startChild('baseline', { env: { BENCH_DATABASE_URL: rawDb.url } });
      try {
        const tokens = await lanyard.child.call<string[]>('sessions', { ...lanyard.account, count: sessions, returnTokens: true });
        const lanyardLoad = rotatingRefresh(
          tokens,
          (t) => JSON.stringify({ grant_type: 'RefreshToken', refresh_token: t, sso_profile_sid: lanyard.account.connectionSid }),
          readJsonToken('refresh_token'),
        );
        const l = await load({
          url: `${lanyard.child.url}/v1/Flex/OAuth/Tokens`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          durationSeconds: settings.durationSeconds,
          connections: settings.connections,
          requests: lanyardLoad.requests,
        });
        const rawTokens = await raw.call<string[]>('sessions', { count: sessions });
        const rawLoad = rotatingRefresh(rawTokens, (t) => JSON.stringify({ refresh_token: t }), readJsonToken('refresh_token'));
        const b = await load({
          url: `${raw.url}/refresh`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          durationSeconds: settings.durationSeconds,
          connections: settings.connections,
          requests: rawLoad.requests,
        });
        if (!providerResult) {
          // Its default memory adapter is an LRU of 1,000 entries: with more live sessions than fit,
          // grants are evicted and refreshes fail. 100 sessions (10 per connection) stay inside it.
          const providerTokens = await provider.call<string[]>('sessions', { count: 100 });
          const providerLoad = rotatingRefresh(
            providerTokens,
            (t) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t, client_id: 'bench-desktop' }).toString(),
            readJsonToken('refresh_token'),
          );
          const r = await load({
            url: `${provider.url}/token`,
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            durationSeconds: settings.durationSeconds,
            connections: settings.connections,
            requests: providerLoad.requests,
          });
          providerResult = { r, failures: providerLoad.failures() };
        }
        const p = providerResult;
        const lSummary = summary(l, lanyardLoad.failures());
        lines.push(
          {
            section: '',
            name: `Refresh grant throughput, ${label} vs raw cost`,
            lanyard: lSummary,
            baseline: `ES256 sign + spend/insert transaction on ${label}: ${summary(b, rawLoad.failures())}`,
            ratio: l.rps / b.rps,
            better: 'higher',
            note: 'raw cost = the same framework, one transaction (UPDATE spent + INSERT successor), one ES256 JWT',
          },
          {
            section: '',
            name: `Refresh grant p99 latency, ${label} vs raw cost`,
            lanyard: `p99 ${l.p99} ms (p50 ${l.p50} ms)`,
            baseline: `p99 ${b.p99} ms (p50 ${b.p50} ms)`,
            ratio: l.p99 / Math.max(b.p99, 1),
            better: 'lower',
            note: `${settings.connections} connections; autocannon ms resolution`,
          },
          {
            section: '',
            name: `Refresh grant throughput, ${label} vs oidc-provider`,
            lanyard: lSummary,
            baseline: `oidc-provider 9 (memory adapter): ${summary(p.r, p.failures)}`,
            ratio: l.rps / p.r.rps,
            better: 'higher',
            note: 'oidc-provider defaults: opaque access token, RS256 ID token, rotation for public clients; 100 sessions (its memory adapter is a 1,000-entry LRU)',
          },
        );
      } finally {
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
