import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { BIN, cliSandbox, ROOT } from '../support/cli.ts';
import { freePort, serveUntilReady, type Served } from '../support/serve.ts';

/**
 * `lanyard serve` whose log output cannot be written: a full disk (ENOSPC, /dev/full) or a log
 * file at the process's size limit (EFBIG, `prlimit --fsize`). Logging must never take sign-in
 * down: the node keeps answering, says so once on stderr, and once stdout takes lines again
 * writes what it held and how many lines it dropped.
 */
const NOTICE = /lanyard: log lines cannot be written to stdout \(/g;

/** `command` (the CLI, maybe behind prlimit) serving on a free port with stdout on `stdoutFd`; resolves once /readyz answers 200. */
async function serve(command: string[], env: Record<string, string | undefined>, stdoutFd: number): Promise<Served> {
  const served = await serveUntilReady({ command, env, stdout: stdoutFd });
  running.push(served.child);
  return served;
}

/** Two requests a browser makes, answered: the sign-in discovery document and a public lookup (each logs a line). */
async function expectServing(origin: string): Promise<void> {
  const discovery = await fetch(`${origin}/.well-known/openid-configuration`);
  expect(discovery.status).toBe(200);
  expect(((await discovery.json()) as { issuer: string }).issuer).toBeTruthy();
  const lookup = await fetch(`${origin}/v1/Flex/Authentication/Config?AccountSid=AC${'0'.repeat(32)}`);
  expect(lookup.status).toBeLessThan(500);
  await lookup.arrayBuffer();
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
});

describe('lanyard serve when its log output cannot be written', () => {
  it('keeps serving on a full disk (ENOSPC) and says so once on stderr, with the cause and the fix', async () => {
    const { env, cleanup } = cliSandbox();
    const full = openSync('/dev/full', 'w');
    try {
      const node = await serve([process.execPath], env, full);
      for (let i = 0; i < 10; i++) await expectServing(node.origin);
      expect(node.child.exitCode).toBeNull();
      expect(node.stderr().match(NOTICE)).toHaveLength(1);
      expect(node.stderr()).toContain(
        'lanyard: log lines cannot be written to stdout (ENOSPC: no space left on device, write); serving goes on. ' +
          'Up to 16 MiB of them are held and written once stdout takes them again: free space on the volume stdout writes to',
      );
      expect(node.stderr()).not.toMatch(/\n\s+at /);
      // Its stdout is a log stream, not a command's output: no "could not write the output", and a clean stop exits 0.
      expect(node.stderr()).not.toContain('could not write the output');
      node.child.kill('SIGTERM');
      expect(await new Promise((resolve) => node.child.once('exit', (code) => resolve(code)))).toBe(0);
    } finally {
      closeSync(full);
      cleanup();
    }
  });

  it('writes the lines it held once the log file takes them again, with no new request to bring them, and says how many it dropped', async () => {
    // PostgreSQL: the size limit applies to every file the process writes, a SQLite database too.
    const db: TestDatabase = await createTestDatabase('postgres');
    const { env, dir, cleanup } = cliSandbox();
    const logFile = join(dir, 'serve.log');
    const out = openSync(logFile, 'a');
    try {
      const node = await serve(['prlimit', '--fsize=4096', '--', process.execPath], { ...env, LANYARD_DATABASE_URL: db.url }, out);
      // Requests log a line each until the file reaches its limit.
      for (let i = 0; i < 200 && !NOTICE.test(node.stderr()); i++) await expectServing(node.origin);
      NOTICE.lastIndex = 0;
      expect(node.stderr()).toContain(
        "(EFBIG: file too large, write); serving goes on. Up to 16 MiB of them are held and written once stdout takes them again: the file stdout writes to reached the process's file size limit (ulimit -f): empty it in place (logrotate's copytruncate; Lanyard does not reopen a file renamed away) or restart Lanyard with a higher limit",
      );
      await expectServing(node.origin);
      const truncatedAt = Date.now();
      // The file is emptied in place (the node appends). No request follows: the held lines go out on their own.
      truncateSync(logFile, 0);
      let lines: Array<Record<string, unknown>> = [];
      for (let i = 0; i < 60 && !lines.some((l) => l.level === 'warn'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        // The first line may be the end of one the limit cut in two (a partial write), as when any log file is emptied in place.
        const [first = '', ...rest] = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
        lines = [...(first.startsWith('{"level"') ? [first] : []), ...rest].map((line) => JSON.parse(line) as Record<string, unknown>);
      }
      expect(lines.find((l) => l.level === 'warn')).toMatchObject({
        message: 'log lines could be written to stdout again after EFBIG; none were dropped meanwhile',
        log_failure: 'EFBIG',
        dropped_lines: 0,
      });
      // Request lines logged while the file was full were held, not lost: the emptied file has lines from before.
      expect(lines.filter((l) => l.message === 'request' && Date.parse(String(l.time)) < truncatedAt).length).toBeGreaterThan(0);
      expect(node.child.exitCode).toBeNull();
      expect(node.stderr().match(NOTICE)).toHaveLength(1);
    } finally {
      closeSync(out);
      cleanup();
      await db.drop();
    }
  });

  it('keeps answering while the program reading its stdout pipe stalls (EAGAIN), then writes every line it held', async () => {
    const { env, cleanup } = cliSandbox();
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // The reader stalls from the start: nothing is read from the node's stdout until the end.
    child.stdout!.pause();
    const origin = `http://127.0.0.1:${port}`;
    try {
      for (let ready = 0; ready !== 200;) {
        ready = await fetch(`${origin}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Far more log lines than the pipe's buffers take (about 250 bytes a line); each request answered at once.
      const requests = 4000;
      let slowest = 0;
      for (let i = 0; i < requests; i += 4) {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            const started = performance.now();
            const response = await fetch(`${origin}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
            await response.arrayBuffer();
            expect(response.status).toBe(200);
            slowest = Math.max(slowest, performance.now() - started);
          }),
        );
      }
      expect(slowest).toBeLessThan(1000);
      // Told once the stall has lasted 5 s.
      await expect
        .poll(() => stderr, { timeout: 10_000, interval: 200 })
        .toContain('(EAGAIN: resource temporarily unavailable, write); serving goes on.');
      expect(stderr).toContain('the program reading stdout (a pipe) has not kept up for 5 s: check it is running and reading');
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stdout!.resume();
      await expect.poll(() => stdout, { timeout: 10_000, interval: 200 }).toContain('log lines could be written to stdout again after EAGAIN');
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{"level"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.filter((l) => l.message === 'request' && l.route === '/.well-known/openid-configuration')).toHaveLength(requests);
      expect(lines.find((l) => l.level === 'warn')).toMatchObject({ log_failure: 'EAGAIN', dropped_lines: 0 });
    } finally {
      cleanup();
    }
  });

  it('keeps an application that embeds the server running when both stdout and stderr are on a full disk', async () => {
    const { env, cleanup } = cliSandbox();
    const port = await freePort();
    const full = openSync('/dev/full', 'w');
    const embedding = [
      "import { loadConfig, startLanyard } from '@lanyard/server';",
      `await startLanyard(loadConfig({ ...process.env, LANYARD_HOST: '127.0.0.1', LANYARD_PORT: '${port}' }));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', embedding], { cwd: ROOT, env, stdio: ['ignore', full, full] });
    running.push(child);
    closeSync(full);
    try {
      const origin = `http://127.0.0.1:${port}`;
      await expect
        .poll(
          () =>
            fetch(`${origin}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 30_000, interval: 100 },
        )
        .toBe(200);
      for (let i = 0; i < 10; i++) await expectServing(origin);
      expect(child.exitCode).toBeNull();
    } finally {
      cleanup();
    }
  });
});
