import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type Run } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

/**
 * An install whose better-sqlite3 was never compiled (its install script did not run: npm 11
 * without `allowScripts`, `--ignore-scripts`) or was compiled for another Node.js. The built
 * `lanyard` command runs from a copy of the bundle beside a node_modules holding every package
 * of this repository but a better-sqlite3 without its compiled file: the message names the
 * driver and the fix, not the database URL, and PostgreSQL still works (README "Install outside
 * the repository").
 */
let dir: string;
let postgres: TestDatabase;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-no-sqlite-'));
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'better-sqlite3' || name === '.bin' || name === '.cache') continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
  }
  const driver = join(ROOT, 'node_modules', 'better-sqlite3');
  cpSync(driver, join(modules, 'better-sqlite3'), {
    recursive: true,
    filter: (path) => !path.startsWith(join(driver, 'build') + sep) && path !== join(driver, 'build'),
  });
  cpSync(join(ROOT, 'packages/cli/bin'), join(dir, 'cli/bin'), { recursive: true });
  cpSync(join(ROOT, 'packages/cli/dist/bundle'), join(dir, 'cli/dist/bundle'), { recursive: true });
  postgres = await createTestDatabase('postgres');
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await postgres?.drop();
});

function lanyard(databaseUrl: string, ...args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: dir, LANYARD_DATABASE_URL: databaseUrl, LANYARD_SECRET_KEY: randomBytes(32).toString('base64') };
  return new Promise((done) => {
    execFile('node', [join(dir, 'cli/bin/lanyard.js'), ...args], { cwd: dir, env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the SQLite driver not built', () => {
  it('says so and how to build it, instead of blaming LANYARD_DATABASE_URL; exits 2', async () => {
    const run = await lanyard(`sqlite:${join(dir, 'lanyard.db')}`, 'accounts', 'list');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`the SQLite driver (better-sqlite3) is not built for this Node.js ${process.version}`);
    expect(run.stderr).toContain('Run `npm rebuild better-sqlite3` where Lanyard is installed');
    expect(run.stderr).toContain('"allowScripts": {"better-sqlite3": true}');
    expect(run.stderr).not.toContain('Invalid configuration');
    // One line of the loader's own text, not its list of every path it tried.
    expect(run.stderr.split('\n').filter((line) => line.includes('→'))).toEqual([]);
  });

  it('leaves PostgreSQL working: a PostgreSQL-only deployment needs no SQLite build', async () => {
    const created = await lanyard(postgres.url, 'accounts', 'create', '--name', 'No SQLite here', '--json');
    expect(created.stderr).not.toContain('better-sqlite3');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).sid).toMatch(/^AC[0-9a-f]{32}$/);
  });
});
