import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from '../lib/database.ts';
import { loaderNote, startChild, type Child } from '../lib/child.ts';
import { load, type LoadResult } from '../lib/load.ts';
import type { Line } from '../lib/report.ts';
import { alternate, median, ratioOf, sideSummary, type Sample } from '../lib/rounds.ts';
import { untilReady } from '../lib/readiness.ts';
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

const loadSample = (r: LoadResult): Sample => ({ value: r.rps, detail: `${rps(r.rps)}, ${lat(r.p50, r.p99)}`, errors: r.errors });

/** Lookup and validate endpoints against a bare hello-world on the same framework, in alternating rounds. */
export async function endpointLines(idp: Child, settings: Settings): Promise<Line[]> {
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'endpoints' });
  const hello = await startChild('baseline', { compiled: true });
  // The same hello-world reading its body from Node's request as Lanyard does (http/request-body.ts).
  const helloNodeReader = await startChild('baseline', { compiled: true, env: { BENCH_BODY_READER: 'node' } });
  try {
    const run = (options: Omit<Parameters<typeof load>[0], 'durationSeconds' | 'connections'>) => async () =>
      loadSample(await load({ ...options, durationSeconds: settings.durationSeconds, connections: settings.connections }));
    const rounds = { rounds: settings.rounds };
    const [lookup, lookupAnswer] = await alternate(
      run({ url: `${lanyard.child.url}/v1/Flex/Authentication/Config?AccountSid=${lanyard.account.accountSid}` }),
      [run({ url: `${hello.url}/hello` }), run({ url: `${hello.url}/lookup-answer` })],
      rounds,
    );
    const token = await accessTokenFrom(lanyard);
    const body = JSON.stringify({ token });
    const authorization = 'Basic ' + Buffer.from(`${lanyard.account.accountSid}:${lanyard.account.authToken}`).toString('base64');
    const jsonPost = { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body };
    const [validate, validateNodeReader] = await alternate(
      run({
        url: `${lanyard.child.url}/v1/Accounts/${lanyard.account.accountSid}/Tokens/validate`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body,
      }),
      [run({ url: `${hello.url}/hello`, ...jsonPost }), run({ url: `${helloNodeReader.url}/hello`, ...jsonPost })],
      rounds,
    );
    const perSecond = (v: number) => rps(v);
    return [
      {
        section: '',
        name: 'Lookup GET /v1/Flex/Authentication/Config (SQLite)',
        lanyard: sideSummary(lookup!.a, perSecond),
        baseline: `hello-world GET: ${sideSummary(lookup!.b, perSecond)}`,
        ...ratioOf(lookup!),
        better: 'higher',
        note: `throughput; Hono on @hono/node-server both sides; ${settings.rounds} rounds of ${settings.durationSeconds} s a side`,
      },
      {
        section: '',
        name: 'Lookup GET /v1/Flex/Authentication/Config (SQLite) vs a hello-world sending the same answer',
        lanyard: sideSummary(lookupAnswer!.a, perSecond),
        baseline: `hello-world GET answering the lookup's body and headers: ${sideSummary(lookupAnswer!.b, perSecond)}`,
        ...ratioOf(lookupAnswer!),
        better: 'higher',
        note: "the same Lanyard rounds as the line above; the baseline sends a body of the same shape and size with the same response headers (security headers, request id, Cache-Control) and does nothing else: what is left is Lanyard's own work",
      },
      {
        section: '',
        name: 'Validate POST …/Tokens/validate (SQLite)',
        lanyard: sideSummary(validate!.a, perSecond),
        baseline: `hello-world JSON POST: ${sideSummary(validate!.b, perSecond)}`,
        ...ratioOf(validate!),
        better: 'higher',
        note: 'Basic auth check + ES256 verify + session and user reads; the hello-world reads its body with c.req.json()',
      },
      {
        section: '',
        name: 'Validate POST …/Tokens/validate (SQLite), baseline reading its body as Lanyard does',
        lanyard: sideSummary(validateNodeReader!.a, perSecond),
        baseline: `hello-world JSON POST, body read from Node's request: ${sideSummary(validateNodeReader!.b, perSecond)}`,
        ...ratioOf(validateNodeReader!),
        better: 'higher',
        note: "the same Lanyard rounds as the line above; both sides read the body straight from Node's IncomingMessage (no WHATWG Request)",
      },
    ];
  } finally {
    await helloNodeReader.stop();
    await hello.stop();
    await lanyard.stop();
  }
}

/**
 * Milliseconds from spawning `lanyard serve` — the production entry, bin/lanyard.js loading the
 * bundle `npm run build` made — on a fresh SQLite file to the line saying it listens (printed once
 * the services are up: migrations run, signing key made), and to its /readyz answering 200 (warm:
 * SAML workers and modules loaded, what a balancer waits for).
 */
async function serveStartupMs(): Promise<{ serving: number; ready: number }> {
  const db = await freshDatabase('sqlite');
  const started = performance.now();
  const child = spawn(process.execPath, [LANYARD_BIN, 'serve', '--port', '0', '--json'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LANYARD_DATABASE_URL: db.url,
      LANYARD_SECRET_KEY: randomBytes(32).toString('base64'),
      LANYARD_LOG_LEVEL: 'silent',
      LANYARD_METADATA_REFRESH_MINUTES: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('lanyard serve printed no URL within 60 s')), 60_000);
      let out = '';
      child.stdout.on('data', (data: Buffer) => {
        out += data.toString('utf8');
        if (!out.includes('\n')) return;
        clearTimeout(timer);
        resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`lanyard serve exited with ${code} before it listened`)));
    });
    const serving = performance.now() - started;
    const { listening } = JSON.parse(line.split('\n')[0]!) as { listening: string };
    await untilReady(listening, { intervalMs: 5, limitMs: 60_000 - serving });
    return { serving, ready: performance.now() - started };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    await db.drop();
  }
}
const LANYARD_BIN = fileURLToPath(new URL('../../packages/cli/bin/lanyard.js', import.meta.url));

/** Start-up to serving and to ready for a balancer (fresh database, migrations included), and memory per live sessions. */
export async function lifecycleLines(idp: Child, settings: Settings): Promise<Line[]> {
  const lines: Line[] = [];
  const ms = (v: number) => `${Math.round(v)} ms`;
  // The start-up under the tsx loader (how the bench and tests run) and compiled (how production should).
  for (const compiled of [false, true]) {
    // `lanyard serve` rounds also time its /readyz (warm-ups first: the counted ones are the last).
    const readyMs: number[] = [];
    const [startup] = await alternate(
      async () => {
        if (compiled) {
          const { serving, ready } = await serveStartupMs();
          readyMs.push(ready);
          return { value: serving };
        }
        const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'startup', skipSetup: true, compiled });
        const took = lanyard.child.startupMs;
        await lanyard.stop();
        return { value: took };
      },
      [
        async () => {
          const hello = await startChild('baseline', { compiled });
          const took = hello.startupMs;
          await hello.stop();
          return { value: took };
        },
      ],
      { rounds: settings.rounds },
    );
    lines.push({
      section: '',
      name: `Start-up to serving (fresh SQLite, migrations, key generation), ${compiled ? '`lanyard serve` as built (compiled JavaScript)' : 'tsx loader'}`,
      lanyard: sideSummary(startup!.a, ms),
      baseline: `hello-world: ${sideSummary(startup!.b, ms)}`,
      ...ratioOf(startup!),
      better: 'lower',
      note: compiled
        ? `process spawn to listening and set up (every request served from here); Lanyard: \`node packages/cli/bin/lanyard.js serve\`, the production entry (dist/bundle/ of \`npm run build\`); ${loaderNote(compiled)}`
        : `process spawn to listening and set up; ${loaderNote(compiled)}`,
    });
    if (compiled) {
      const ready = readyMs.slice(-startup!.a.length);
      const ratios = ready.map((v, i) => v / startup!.b[i]!.value);
      lines.push({
        section: '',
        name: 'Start-up to ready for a balancer (/readyz 200: SAML workers and modules loaded), `lanyard serve` as built',
        lanyard: sideSummary(
          ready.map((value) => ({ value })),
          ms,
        ),
        baseline: `hello-world: ${sideSummary(startup!.b, ms)}`,
        ...ratioOf({ ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), a: [], b: [] }),
        better: 'lower',
        note: 'the same rounds as the line above: process spawn to the first /readyz 200 (polled every 5 ms once it listens); "warming" (503) until its SAML verification workers answered, each having loaded the XML modules (the main thread loads none since the twenty-fifth round; operations/warm-up.ts)',
      });
    }
  }

  const n = settings.memorySessions;
  const perTenK = (bytes: number) => (bytes * 10_000) / n;
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'memory', compiled: true });
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
      lanyard: `${mb(lDelta)} heap+external (RSS +${mb(perTenK(l1.rss - l0.rss))}; sessions live in SQLite, and the node remembers the refresh tokens it issued)`,
      baseline: `oidc-provider in-memory: ${mb(pDelta)} heap+external (RSS +${mb(perTenK(p1.rss - p0.rss))})`,
      ratio: pDelta > 0 ? Math.max(lDelta, 0) / pDelta : null,
      better: 'lower',
      note: `${n.toLocaleString('en')} sessions made${n === 10_000 ? '' : ', scaled to 10,000'}; Lanyard compiled (esbuild bundle, no loader); read after a forced GC; the heap growth is the node's memory of the refresh tokens it issued (tokens/issued-here.ts: 20,000 at most, about 0.7–0.9 KB each, so it stops growing there); RSS growth is mostly allocator and SQLite page cache`,
    });
  } finally {
    await provider.stop();
    await lanyard.stop();
  }
  return lines;
}
