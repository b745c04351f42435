import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startChild, type Child } from './child.ts';
import { freshDatabase, type Backend } from './database.ts';

// One secret key for every Lanyard process of the run: cluster nodes share a database and must
// open each other's sealed signing keys.
process.env.LANYARD_SECRET_KEY ??= randomBytes(32).toString('base64');

export const QUICK = process.env.BENCH_QUICK === '1';
export const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
export const settings = {
  quick: QUICK,
  /** Counted rounds per line (plus one warm-up round of each side; three on the login lines). */
  rounds: Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5)),
  /** Seconds of load per side and round. */
  durationSeconds: Number(process.env.BENCH_DURATION ?? (QUICK ? 1 : 3)),
  connections: 10,
  /** Logins per side and round. */
  logins: QUICK ? 16 : 48,
  loginConcurrency: 8,
  burstAgents: Number(process.env.BENCH_BURST_AGENTS ?? (QUICK ? 200 : 2000)),
  burstWindowSeconds: QUICK ? 10 : 60,
  /** Logins the burst's dev IdP serves at once, the rest queued in order (bench/lines/burst.ts). */
  burstIdpConcurrency: wholeNumber('BENCH_BURST_IDP_CONCURRENCY', 16, 1),
  /** How much nicer than the bench the burst's nodes run (0: as nice as the bench). */
  burstNodeNiceness: wholeNumber('BENCH_BURST_NODE_NICENESS', 5, 0),
  memorySessions: QUICK ? 2_000 : 10_000,
  profileDir: process.env.BENCH_PROFILE === '1' ? fileURLToPath(new URL('../.profiles/', import.meta.url)) : undefined,
};
export type Settings = typeof settings;

function wholeNumber(name: string, fallback: number, min: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, got "${process.env[name]}"`);
  return value;
}

/** Starts a Lanyard child on a fresh database, set up with one account wired to the dev IdP. */
export async function startLanyardUnderTest(
  backend: Backend,
  idp: Child,
  options: { label: string; publicUrl?: string; databaseUrl?: string; skipSetup?: boolean; env?: Record<string, string>; compiled?: boolean } = {
    label: 'lanyard',
  },
) {
  const db = options.databaseUrl ? { url: options.databaseUrl, drop: async () => undefined } : await freshDatabase(backend);
  // A directory per process: tsx's loader thread writes a profile of its own beside the main one.
  const nodeFlags = settings.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.profileDir}${options.label}-${backend}-${Date.now()}`] : [];
  const child = await startChild('lanyard', {
    env: { BENCH_DATABASE_URL: db.url, ...(options.publicUrl ? { BENCH_PUBLIC_URL: options.publicUrl } : {}), ...options.env },
    nodeFlags,
    // As production runs it (issue 16 item 4): compiled JavaScript, no loader. Only the start-up
    // line also measures the tsx loader, by asking for compiled: false.
    compiled: options.compiled ?? true,
  });
  const account =
    options.databaseUrl || options.skipSetup
      ? undefined
      : await child.call<{ accountSid: string; authToken: string; connectionSid: string; clientId: string }>('setup', {
          metadataXml: idp.ready.metadataXml,
          trustedUrl: 'http://127.0.0.1:5173/desktop/',
        });
  return {
    child,
    db,
    account: account!,
    async stop() {
      await child.stop();
      await db.drop();
    },
  };
}
export type LanyardUnderTest = Awaited<ReturnType<typeof startLanyardUnderTest>>;
