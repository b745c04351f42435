import { startChild, type Child } from '../lib/child.ts';
import { load } from '../lib/load.ts';
import type { Line } from '../lib/report.ts';
import { startLanyardUnderTest, type Settings } from '../lib/setup.ts';

const rps = (n: number) => `${Math.round(n).toLocaleString('en')} req/s`;
const lat = (p50: number, p99: number) => `p50 ${p50} ms, p99 ${p99} ms`;
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/** A fresh access token: one pre-created session, refreshed once over HTTP. */
export async function accessTokenFrom(lanyard: Awaited<ReturnType<typeof startLanyardUnderTest>>): Promise<string> {
  const [refreshToken] = await lanyard.child.call<string[]>('sessions', { ...lanyard.account, count: 1, returnTokens: true });
  const response = await fetch(`${lanyard.child.url}/v1/Flex/OAuth/Tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: lanyard.account.connectionSid }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Lookup and validate endpoints against a bare hello-world on the same framework. */
export async function endpointLines(idp: Child, settings: Settings): Promise<Line[]> {
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'endpoints' });
  const hello = await startChild('baseline');
  try {
    const duration = settings.durationSeconds;
    const helloGet = await load({ url: `${hello.url}/hello`, durationSeconds: duration, connections: settings.connections });
    const lookup = await load({
      url: `${lanyard.child.url}/v1/Flex/Authentication/Config?AccountSid=${lanyard.account.accountSid}`,
      durationSeconds: duration,
      connections: settings.connections,
    });
    const token = await accessTokenFrom(lanyard);
    const body = JSON.stringify({ token });
    const authorization = 'Basic ' + Buffer.from(`${lanyard.account.accountSid}:${lanyard.account.authToken}`).toString('base64');
    const validate = await load({
      url: `${lanyard.child.url}/v1/Accounts/${lanyard.account.accountSid}/Tokens/validate`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body,
      durationSeconds: duration,
      connections: settings.connections,
    });
    const helloPost = await load({
      url: `${hello.url}/hello`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      durationSeconds: duration,
      connections: settings.connections,
    });
    const errors = (n: number) => (n ? `, ${n} errors` : '');
    return [
      {
        section: '',
        name: 'Lookup GET /v1/Flex/Authentication/Config (SQLite)',
        lanyard: `${rps(lookup.rps)}, ${lat(lookup.p50, lookup.p99)}${errors(lookup.errors)}`,
        baseline: `hello-world GET: ${rps(helloGet.rps)}, ${lat(helloGet.p50, helloGet.p99)}`,
        ratio: lookup.rps / helloGet.rps,
        better: 'higher',
        note: 'throughput; Hono on @hono/node-server both sides',
      },
      {
        section: '',
        name: 'Validate POST …/Tokens/validate (SQLite)',
        lanyard: `${rps(validate.rps)}, ${lat(validate.p50, validate.p99)}${errors(validate.errors)}`,
        baseline: `hello-world JSON POST: ${rps(helloPost.rps)}, ${lat(helloPost.p50, helloPost.p99)}`,
        ratio: validate.rps / helloPost.rps,
        better: 'higher',
        note: 'Basic auth check + ES256 verify + session and user reads',
      },
    ];
  } finally {
    await hello.stop();
    await lanyard.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Start-up to ready (fresh database, migrations included) and memory per live sessions. */
export async function lifecycleLines(idp: Child, settings: Settings): Promise<Line[]> {
  const runs = settings.quick ? 1 : 3;
  const lanyardStarts: number[] = [];
  const helloStarts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const hello = await startChild('baseline');
    helloStarts.push(hello.startupMs);
    await hello.stop();
    const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'startup' });
    lanyardStarts.push(lanyard.child.startupMs);
    await lanyard.stop();
  }
  const lines: Line[] = [
    {
      section: '',
      name: 'Start-up to ready (fresh SQLite, migrations, key generation)',
      lanyard: `${Math.round(median(lanyardStarts))} ms`,
      baseline: `hello-world: ${Math.round(median(helloStarts))} ms`,
      ratio: median(lanyardStarts) / median(helloStarts),
      better: 'lower',
      note: `median of ${runs}; process spawn to listening and set up, tsx loader both sides`,
    },
  ];

  const n = settings.memorySessions;
  const perTenK = (bytes: number) => (bytes * 10_000) / n;
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'memory' });
  const provider = await startChild('oidc-provider');
  try {
    type Mem = { rss: number; heapUsed: number; external: number };
    const l0 = await lanyard.child.call<Mem>('memory');
    await lanyard.child.call('sessions', { ...lanyard.account, count: n, returnTokens: false });
    const l1 = await lanyard.child.call<Mem>('memory');
    const p0 = await provider.call<Mem>('memory');
    await provider.call('sessions', { count: n });
    const p1 = await provider.call<Mem>('memory');
    const lDelta = perTenK(l1.heapUsed + l1.external - l0.heapUsed - l0.external);
    const pDelta = perTenK(p1.heapUsed + p1.external - p0.heapUsed - p0.external);
    lines.push({
      section: '',
      name: 'Memory per 10,000 live sessions (heap growth)',
      lanyard: `${mb(lDelta)} heap+external (RSS +${mb(perTenK(l1.rss - l0.rss))}; sessions live in SQLite)`,
      baseline: `oidc-provider in-memory: ${mb(pDelta)} heap+external (RSS +${mb(perTenK(p1.rss - p0.rss))})`,
      ratio: pDelta > 0 ? Math.max(lDelta, 0) / pDelta : null,
      better: 'lower',
      note: `${n.toLocaleString('en')} sessions made${n === 10_000 ? '' : ', scaled to 10,000'}; read after a forced GC; RSS growth is mostly allocator and SQLite page cache, not retained`,
    });
  } finally {
    await provider.stop();
    await lanyard.stop();
  }
  return lines;
}
