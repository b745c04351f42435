import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The built CLI (`npm run build`), as users run it. */
export const BIN = join(ROOT, 'packages/cli/bin/lanyard.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real `lanyard` CLI as a child process, on its own SQLite database in a temp directory. */
export function cliSandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-cli-'));
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: dir,
    LANYARD_DATABASE_URL: `sqlite:${join(dir, 'db')}`,
    LANYARD_SECRET_KEY: randomBytes(32).toString('base64'),
  };

  function lanyard(...args: string[]): Promise<Run> {
    return new Promise((done) => {
      execFile('node', [BIN, ...args], { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }
  async function json(...args: string[]) {
    const run = await lanyard(...args, '--json');
    expect(run.stderr, args.join(' ')).toBe('');
    expect(run.code, args.join(' ')).toBe(0);
    return JSON.parse(run.stdout);
  }
  return { dir, env, lanyard, json, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bad input: exit 2, one line on stderr, no stack trace. */
/** A 404 from the CLI: exit 2, the database it read on one line (the usual cause), then the error. */
export function expectNotFound(run: Run, message: RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^lanyard: database /);
  expect(lines.at(-1)).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

export function expectBadInput(run: Run, message: RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}
