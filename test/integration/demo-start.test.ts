import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';

const DEMO = join(ROOT, 'packages/demo/bin/demo.js');
const CLI = join(ROOT, 'packages/cli/bin/lanyard.js');

interface Started {
  process: ChildProcess;
  output: string;
  serverUrl: string;
  adminKey: string;
}

/** `npm start` as a newcomer runs it, in an empty folder (its default database), on free ports. */
function startDemo(cwd: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [DEMO], {
    cwd,
    env: { PATH: process.env.PATH, HOME: cwd, LANYARD_PORT: '0', DEMO_IDP_PORT: '0', DEMO_DESKTOP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start within 60 s:\n${output}`)), 60_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('Press Ctrl+C to stop.')) return;
      clearTimeout(timer);
      const serverUrl = /Lanyard server\s+(http:\/\/\S+)/.exec(output)?.[1];
      const adminKey = /admin key\s+(lk_\S+)/.exec(output)?.[1];
      if (!serverUrl || !adminKey) reject(new Error(`no server URL or admin key in the banner:\n${output}`));
      else resolve({ process: child, output, serverUrl, adminKey });
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code) => reject(new Error(`the demo exited with ${code}:\n${output}`)));
  });
}

async function stop(started: Started): Promise<void> {
  const exited = new Promise((resolve) => started.process.once('exit', resolve));
  started.process.kill('SIGTERM');
  await exited;
}

/** Console sign-in with a key: 200 and a session cookie, or the refusal's status. */
async function consoleSignIn(serverUrl: string, adminKey: string): Promise<number> {
  const response = await fetch(`${serverUrl}/console/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ admin_key: adminKey }),
  });
  return response.status;
}

function cli(cwd: string, env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { PATH: process.env.PATH, HOME: cwd, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm start for a newcomer', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'lanyard-demo-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('prints an admin key the console accepts; a restart prints a new one and revokes the old', { timeout: 180_000 }, async () => {
    const first = await startDemo(cwd);
    let firstKey: string;
    try {
      expect(first.output).toContain(`Database      sqlite:${join(cwd, '.lanyard/demo.db')}`);
      expect(first.output).toContain('LANYARD_DATABASE_URL=sqlite:.lanyard/demo.db npx lanyard');
      expect(first.output).not.toMatch(/SingleLogoutService/);
      expect(await consoleSignIn(first.serverUrl, first.adminKey)).toBe(201);
      firstKey = first.adminKey;
    } finally {
      await stop(first);
    }
    const second = await startDemo(cwd);
    try {
      expect(second.adminKey).not.toBe(firstKey);
      expect(await consoleSignIn(second.serverUrl, second.adminKey)).toBe(201);
      expect(await consoleSignIn(second.serverUrl, firstKey)).toBe(401);
    } finally {
      await stop(second);
    }
  });

  it('the CLI names the database it used, and points at the demo database beside its default', { timeout: 120_000 }, async () => {
    const onDefault = await cli(cwd, {}, 'admin-key', 'list');
    expect(onDefault.code).toBe(0);
    expect(onDefault.stdout).toContain('No admin keys');
    expect(onDefault.stderr).toContain(`lanyard: database sqlite:${join(cwd, '.lanyard/lanyard.db')} (the default`);
    expect(onDefault.stderr).toContain('the demo (npm start) uses sqlite:.lanyard/demo.db: run with LANYARD_DATABASE_URL=sqlite:.lanyard/demo.db');

    const onDemo = await cli(cwd, { LANYARD_DATABASE_URL: 'sqlite:.lanyard/demo.db' }, 'admin-key', 'list');
    expect(onDemo.code).toBe(0);
    expect(onDemo.stdout).toContain('demo console (npm start)');
    expect(onDemo.stderr).toContain(`lanyard: database sqlite:${join(cwd, '.lanyard/demo.db')} (LANYARD_DATABASE_URL)`);

    const json = await cli(cwd, { LANYARD_DATABASE_URL: 'sqlite:.lanyard/demo.db' }, 'admin-key', 'list', '--json');
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout).admin_keys).toHaveLength(1);
  });

  it(
    'sends the Cross-Origin-Opener-Policy asked for on the IdP and desktop pages, and refuses a value that is none',
    { timeout: 120_000 },
    async () => {
      const own = mkdtempSync(join(tmpdir(), 'lanyard-demo-coop-'));
      try {
        await expect(startDemo(own, { DEMO_IDP_COOP: 'same_origin' })).rejects.toThrow(
          /exited with 2:\n[\s\S]*npm start: DEMO_IDP_COOP is "same_origin": use one of same-origin, same-origin-allow-popups/,
        );
        const started = await startDemo(own, { DEMO_IDP_COOP: 'same-origin', DEMO_DESKTOP_COOP: 'same-origin-allow-popups' });
        try {
          const idpUrl = /Development SAML IdP\s+(http:\/\/\S+)/.exec(started.output)![1]!;
          const desktopUrl = /Agent desktop \(enhanced SSO\)\s+(http:\/\/\S+)/.exec(started.output)![1]!;
          expect((await fetch(`${idpUrl}/`)).headers.get('cross-origin-opener-policy')).toBe('same-origin');
          expect((await fetch(desktopUrl)).headers.get('cross-origin-opener-policy')).toBe('same-origin-allow-popups');
          expect(started.output).toContain("same-origin on the IdP's pages (DEMO_IDP_COOP)");
          expect(started.output).toContain("same-origin-allow-popups on the desktop's pages (DEMO_DESKTOP_COOP)");
        } finally {
          await stop(started);
        }
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
    },
  );
});
