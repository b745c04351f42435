import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, POSTGRES_URL, createTestDatabase } from '../support/backends.ts';
import { cliSandbox, ROOT } from '../support/cli.ts';

/**
 * `lanyard serve` starts its SAML verification workers before it loads the server (so that they
 * load their modules while the main thread loads its own, docs/benchmarks.md, twenty-fourth
 * round). A warning they give meanwhile must not come before the listening line, which scripts
 * read as stdout's first line (`--json`: `{"url","listening"}`), and must not be lost.
 *
 * The failure is a real one: the built CLI copied without its worker bundle (an install missing a
 * file). The copy sits beside the real one so that its packages resolve from the repository's
 * node_modules. To be sure the workers fail before the node listens, its start waits on another
 * start's PostgreSQL migration lock meanwhile.
 */
const { env, cleanup } = cliSandbox();
const copy = mkdtempSync(join(ROOT, 'packages/cli/.test-copy-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(copy, { recursive: true, force: true });
  cleanup();
});

/** Every stdout line of `serve --json` until `until` matches one, or the process ends. */
function serveLines(bin: string, until: RegExp, more: Record<string, string> = {}): Promise<string[]> {
  const child = spawn('node', [bin, 'serve', '--host', '127.0.0.1', '--port', '0', '--json'], {
    cwd: ROOT,
    env: { ...env, LANYARD_SAML_WORKERS: '2', LANYARD_LOG_LEVEL: 'info', ...more },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no line matched ${until} within 30 s:\n${out}\n${err}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const lines = out.split('\n').filter(Boolean);
      if (!lines.some((line) => until.test(line))) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(lines);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`lanyard serve exited before a line matched ${until}:\n${out}\n${err}`));
    });
  });
}

describe('lanyard serve starts its SAML workers first', { timeout: 60_000 }, () => {
  it.runIf(BACKENDS.includes('postgres'))(
    'with a worker bundle missing, the warning given while the node starts: the listening line first, then the warning once, then ready on the main thread',
    async () => {
      cpSync(join(ROOT, 'packages/cli/bin'), join(copy, 'bin'), { recursive: true });
      cpSync(join(ROOT, 'packages/cli/dist'), join(copy, 'dist'), { recursive: true });
      cpSync(join(ROOT, 'packages/cli/package.json'), join(copy, 'package.json'));
      rmSync(join(copy, 'dist/bundle/saml-verification-worker.mjs'));
      const db = await createTestDatabase('postgres');
      const lock = `lanyard_migrations:${new URL(db.url).searchParams.get('schema')!}`;
      const holder = new pg.Client({ connectionString: POSTGRES_URL });
      await holder.connect();
      try {
        await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [lock]);
        const lines = serveLines(join(copy, 'bin/lanyard.js'), /ready \(\/readyz 200\)/, { LANYARD_DATABASE_URL: db.url });
        // The workers fail within a second of the process's start (0.2-0.5 s here); the node waits on the lock meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        await holder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lock]);
        const out = await lines;
        expect(Object.keys(JSON.parse(out[0]!) as object).sort(), out.join('\n')).toEqual(['listening', 'url']);
        const messages = out.slice(1).map((line) => (JSON.parse(line) as { message: string }).message);
        const warnings = messages.filter((m) =>
          /^the SAML verification workers could not start: .*verified on the main thread \(LANYARD_SAML_WORKERS\)$/.test(m),
        );
        expect(warnings, messages.join('\n')).toHaveLength(1);
        expect(messages.at(-1)).toMatch(
          /ready \(\/readyz 200\): SAML modules loaded, responses verified on the main thread: the workers could not start/,
        );
      } finally {
        await holder.end();
        await db.drop();
      }
    },
  );

  it('the control: the same command from the full build verifies on its two workers', async () => {
    const lines = await serveLines(join(ROOT, 'packages/cli/bin/lanyard.js'), /ready \(\/readyz 200\)/);
    expect(Object.keys(JSON.parse(lines[0]!) as object).sort()).toEqual(['listening', 'url']);
    const messages = lines.slice(1).map((line) => (JSON.parse(line) as { message: string }).message);
    expect(messages.some((m) => /workers could not start/.test(m))).toBe(false);
    expect(messages.at(-1)).toMatch(/ready \(\/readyz 200\): SAML modules loaded, responses verified on 2 worker threads/);
  });
});
