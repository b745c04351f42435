import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, cliSandbox, expectBadInput, type Run } from '../support/cli.ts';
import { createTestDatabase } from '../support/backends.ts';

function run(environment: Record<string, string | undefined>, ...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      'node',
      [join(ROOT, 'packages/cli/bin/lanyard.js'), ...args],
      { cwd: ROOT, env: environment, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * Issue 13, item 9: a configuration error names the variable and exits 2 (README), for every
 * variable, including values that pass a format check but not their meaning (a key of the wrong
 * length, a database the server cannot use, a port already taken). Run through the real CLI:
 * `lanyard accounts list` reads the configuration like every command, `lanyard serve` also listens.
 */

const { env, lanyard, cleanup } = cliSandbox();
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => busy.close(() => resolve()));
  cleanup();
});

/** [variable, value]: each refused with exit 2 and a line naming the variable. */
const BAD_VALUES: Array<[string, string]> = [
  ['LANYARD_PUBLIC_URL', 'sso.example.com'],
  ['LANYARD_PUBLIC_URL', 'https://sso.example.com/?tenant=1'],
  ['LANYARD_HOST', 'http://0.0.0.0'],
  ['LANYARD_PORT', 'eighty'],
  ['LANYARD_PORT', '70000'],
  ['LANYARD_PORT', ''],
  ['LANYARD_DATABASE_URL', 'mysql://db.example.com/lanyard'],
  ['LANYARD_DATABASE_URL', 'sqlite:/etc/passwd/lanyard.db'], // its directory is a file
  ['LANYARD_DATABASE_URL', 'postgres://127.0.0.1:5432/lanyard_no_such_database_13'],
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:1/test'], // nothing listens on port 1
  // A database that exists: refused for the setting alone, before anything is created in it.
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test?schema=t_cli_never&prepared_statements=off'],
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test?schema=t_cli_never&prepared_statements=false&prepared_statements=true'],
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test?schema=t_cli_never&prepared_statement=false'],
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test?schema=t_cli_never&statement_timeout=abc'],
  ['LANYARD_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test?schema=t_cli_never&query_timeout=1000'],
  ['LANYARD_SECRET_KEY', 'short'],
  ['LANYARD_SECRET_KEY', 'A'.repeat(44)], // passes the base64 pattern, decodes to 33 bytes
  ['LANYARD_ACCESS_TOKEN_TTL', '0'],
  ['LANYARD_ACCESS_TOKEN_TTL', '99999999'],
  ['LANYARD_REFRESH_TOKEN_TTL', '60'], // shorter than the access token
  ['LANYARD_SESSION_MAX_LIFETIME', '-5'],
  ['LANYARD_REFRESH_GRACE_SECONDS', '500'],
  ['LANYARD_CODE_TTL', '3600'],
  ['LANYARD_LOGIN_TTL', 'ten'],
  ['LANYARD_TRUST_PROXY', 'maybe'],
  ['LANYARD_METADATA_REFRESH_MINUTES', '-1'],
  ['LANYARD_LOG_LEVEL', 'verbose'],
  ['LANYARD_METRICS_TOKEN', 'short'],
  ['LANYARD_SHUTDOWN_TIMEOUT', '1000'],
  ['LANYARD_SIGNING_KEY_RELOAD', '0'],
  ['LANYARD_SAML_WORKERS', '-1'],
  ['LANYARD_RATE_LIMIT_LOGIN', ''], // empty used to read as 0: the limit silently off
  ['LANYARD_RATE_LIMIT_TOKEN', '-1'],
  ['LANYARD_RATE_LIMIT_ADMIN', 'lots'],
  ['LANYARD_CONFIG_FILE', '/nonexistent/lanyard.json'],
];

describe('configuration errors exit 2 naming the variable', { timeout: 120_000 }, () => {
  it('covers every variable the README lists', () => {
    const names = new Set(BAD_VALUES.map(([name]) => name));
    for (const name of [
      'LANYARD_PUBLIC_URL',
      'LANYARD_HOST',
      'LANYARD_PORT',
      'LANYARD_DATABASE_URL',
      'LANYARD_SECRET_KEY',
      'LANYARD_ACCESS_TOKEN_TTL',
      'LANYARD_REFRESH_TOKEN_TTL',
      'LANYARD_SESSION_MAX_LIFETIME',
      'LANYARD_REFRESH_GRACE_SECONDS',
      'LANYARD_CODE_TTL',
      'LANYARD_LOGIN_TTL',
      'LANYARD_TRUST_PROXY',
      'LANYARD_METADATA_REFRESH_MINUTES',
      'LANYARD_LOG_LEVEL',
      'LANYARD_METRICS_TOKEN',
      'LANYARD_SHUTDOWN_TIMEOUT',
      'LANYARD_SIGNING_KEY_RELOAD',
      'LANYARD_SAML_WORKERS',
      'LANYARD_RATE_LIMIT_LOGIN',
      'LANYARD_RATE_LIMIT_TOKEN',
      'LANYARD_RATE_LIMIT_ADMIN',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
  });

  // Each row is its own process with its own environment: run them side by side.
  it.concurrent.each(BAD_VALUES)('%s=%s', async (name, value) => {
    expectBadInput(await run({ ...env, [name]: value }, 'accounts', 'list'), new RegExp(name));
  });

  it('lanyard serve: a port already in use names LANYARD_PORT', async () => {
    const environment = { ...env, LANYARD_PORT: String(busyPort), LANYARD_HOST: '127.0.0.1' };
    expectBadInput(await run(environment, 'serve'), /LANYARD_PORT: 127\.0\.0\.1:\d+ is already in use/);
  });

  it('lanyard serve: a host that is not an address of this machine names LANYARD_HOST', async () => {
    const environment = { ...env, LANYARD_PORT: '0', LANYARD_HOST: '192.0.2.1' };
    expectBadInput(await run(environment, 'serve'), /LANYARD_HOST: 192\.0\.2\.1 is not an address of this machine/);
  });

  it('lanyard serve: a database it cannot open names LANYARD_DATABASE_URL', async () => {
    const environment = { ...env, LANYARD_PORT: '0', LANYARD_DATABASE_URL: 'sqlite:/etc/passwd/lanyard.db' };
    expectBadInput(await run(environment, 'serve'), /LANYARD_DATABASE_URL/);
  });

  it('the control: the same sandbox with good values works', async () => {
    const good = await lanyard('accounts', 'list', '--json');
    expect(good.code).toBe(0);
  });
});

describe('a database the command itself created', () => {
  it('says so once: a new, empty schema (a mistyped schema= starts an empty Lanyard otherwise unseen)', async () => {
    const db = await createTestDatabase('postgres');
    try {
      const environment = { ...env, LANYARD_DATABASE_URL: db.url };
      const first = await run(environment, 'accounts', 'list');
      expect(first.code).toBe(0);
      expect(first.stderr).toContain(
        "lanyard: it was empty: Lanyard's tables were created in it now. If you expected existing accounts, check LANYARD_DATABASE_URL (the schema= parameter and the database name).",
      );
      const second = await run(environment, 'accounts', 'list');
      expect(second.code).toBe(0);
      expect(second.stderr).toMatch(/^lanyard: database postgres:\/\/\S+ \(LANYARD_DATABASE_URL\)\n$/);
    } finally {
      await db.drop();
    }
  });
});
