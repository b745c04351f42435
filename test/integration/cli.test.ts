import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { cliSandbox, expectBadInput, ROOT } from '../support/cli.ts';
import { loadConfig } from '../../packages/server/src/config.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { createServices } from '../../packages/server/src/services.ts';

const DESKTOP = 'https://desktop.example.com/agent';

describe('lanyard CLI', () => {
  const { dir, env, lanyard, json, cleanup } = cliSandbox();
  let accountSid: string;
  let certFile: string;

  beforeAll(() => {
    certFile = join(dir, 'idp.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '30', '-keyout', join(dir, 'idp.key'), '-out', certFile],
      { stdio: 'ignore' },
    );
  });
  afterAll(cleanup);

  it('prints help', async () => {
    const run = await lanyard('--help');
    expect(run.code).toBe(0);
    for (const command of [
      'serve',
      'accounts',
      'sso',
      'trusted-urls',
      'redirect-url',
      'auth-config',
      'token',
      'admin-key',
      'signing-keys',
      'mode',
      'status',
    ]) {
      expect(run.stdout).toContain(command);
    }
  });

  describe('--version', () => {
    // A sandbox of its own (nothing else has opened its database), run from a folder whose
    // package.json is a decoy: the version must come from the command's own package.
    const own = cliSandbox();
    const { version } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string };
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        writeFileSync(join(own.dir, 'package.json'), JSON.stringify({ name: '@lanyard/cli', version: '0.0.0-decoy' }));
        execFile('node', [join(ROOT, 'packages/cli/bin/lanyard.js'), ...args], { cwd: own.dir, env: own.env }, (error, stdout, stderr) =>
          done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    afterAll(own.cleanup);

    it("prints @lanyard/cli's version, as text or JSON, without opening the database", async () => {
      for (const flag of ['--version', '-V']) {
        expect(await run(flag), flag).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
      }
      expect(await run('--json', '--version')).toEqual({ code: 0, stdout: `${JSON.stringify({ version })}\n`, stderr: '' });
      expect(existsSync(join(own.dir, 'db'))).toBe(false);
    });

    it('is a flag of `lanyard` alone: after a command it is a usage error, as an option value it is the value', async () => {
      expectBadInput(await run('accounts', '--version'), /unknown option '--version'/);
      expectBadInput(await run('nosuchcommand', '--version'), /unknown command 'nosuchcommand'/);
      const created = await run('accounts', 'create', '--name', '-V', '--json');
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ friendly_name: '-V' });
    });
  });

  it('output that does not arrive is exit 1 and never a stack trace; a failing stderr changes no exit code', async () => {
    // A sandbox of its own: the accounts made here stay out of the other tests' lists.
    const { dir, env, cleanup: cleanupOwn } = cliSandbox();
    onTestFinished(cleanupOwn);
    const bin = join(ROOT, 'packages/cli/bin/lanyard.js');
    // The reader goes away before the command writes (`lanyard accounts create … | true`): a
    // secret shown once may be in what was lost, so not a success; nothing said, no stack.
    const closed = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn('node', [bin, '--json', 'accounts', 'create', '--name', 'Unread'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('close', (code) => done({ code, stderr }));
    });
    expect(closed).toEqual({ code: 1, stderr: '' });
    const full = openSync('/dev/full', 'w');
    try {
      // A full device: the cause in one line, exit 1.
      const result = spawnSync('node', [bin, '--help'], { cwd: dir, env, stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stderr).toBe('lanyard: could not write the output: ENOSPC: no space left on device, write\n');
      // Notes on a stderr that fails: the command's own exit code, success (0) and bad input (2) alike.
      const created = spawnSync('node', [bin, 'accounts', 'create', '--name', 'Noted'], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', full],
        encoding: 'utf8',
      });
      expect(created.status).toBe(0);
      expect(created.stdout).toMatch(/AC[0-9a-f]{32}/);
      const refused = spawnSync('node', [bin, 'status', 'ACnope'], { cwd: dir, env, stdio: ['ignore', 'pipe', full], encoding: 'utf8' });
      expect(refused.status).toBe(2);
    } finally {
      closeSync(full);
    }
  });

  it('creates and lists accounts', async () => {
    const created = await json('accounts', 'create', '--name', 'Support floor');
    expect(created).toMatchObject({ sid: expect.stringMatching(/^AC[0-9a-f]{32}$/), friendly_name: 'Support floor', auth_token: expect.any(String) });
    accountSid = created.sid;
    expect((await json('accounts', 'list')).accounts).toEqual([expect.objectContaining({ sid: accountSid })]);
    const human = await lanyard('accounts', 'list');
    expect(human.stdout).toMatch(new RegExp(`${accountSid}\\s+enhanced\\s+Support floor`));
  });

  it("replaces an account's auth token, shown once", async () => {
    const first = await json('accounts', 'rotate-auth-token', accountSid);
    expect(first).toEqual({ account_sid: accountSid, auth_token: expect.any(String) });
    const human = await lanyard('accounts', 'rotate-auth-token', accountSid);
    expect(human.stdout).toMatch(/auth token\s+\S+ {2}\(shown once: store it now\)/);
    expect(human.stdout).toContain('the previous one no longer works');
    expect(human.stdout).not.toContain(first.auth_token);
  });

  it('adds, lists and removes Trusted URLs', async () => {
    expect((await json('trusted-urls', 'add', accountSid, 'http://localhost:5173/')).trusted_urls).toEqual(['http://localhost:5173/']);
    expect((await json('trusted-urls', 'add', accountSid, DESKTOP)).trusted_urls).toHaveLength(2);
    expect((await lanyard('trusted-urls', 'list', accountSid)).stdout).toContain(DESKTOP);
    expect((await json('trusted-urls', 'remove', accountSid, 'http://localhost:5173/')).trusted_urls).toEqual([DESKTOP]);
  });

  it('sets the Default redirect URL', async () => {
    expect((await json('redirect-url', 'set', accountSid, DESKTOP)).default_redirect_url).toBe(DESKTOP);
  });

  it('sets the IdP from a certificate file', async () => {
    const connection = await json(
      'sso',
      'set',
      accountSid,
      '--issuer',
      'https://idp.example.com',
      '--sso-url',
      'https://idp.example.com/sso',
      '--cert',
      certFile,
      '--clock-skew',
      '60',
    );
    expect(connection).toMatchObject({
      sid: expect.stringMatching(/^JQ/),
      issuer: 'https://idp.example.com',
      clock_skew_seconds: 60,
      certificates: [expect.objectContaining({ subject: 'CN=test' })],
    });
    const human = await lanyard('status', accountSid);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Enhanced SSO: ready');
    expect(human.stdout).toMatch(/Legacy SSO: not ready\n\s+- SSO mode is "enhanced"/);
  });

  it('prints the auth config exactly as the public lookup answers it', async () => {
    const account = await json('status', accountSid);
    const expected = {
      config_list: [
        {
          account_sid: accountSid,
          instance_sid: account.instance_sid,
          connection_name: account.connections[0].sid,
          client_id: account.connections[0].client_id,
          active: true,
          app_type: 'SinglePageApp',
        },
      ],
    };
    expect(await json('auth-config', accountSid)).toEqual(expected);
    expect(JSON.parse((await lanyard('auth-config', accountSid)).stdout)).toEqual(expected);
  });

  it('switches the SSO mode', async () => {
    expect((await json('mode', 'set', accountSid, 'both')).setup.legacy).toEqual({ ready: true, missing: [] });
    expectBadInput(await lanyard('mode', 'set', accountSid, 'hybrid'), /hybrid.*legacy, enhanced, both/);
  });

  it('manages admin keys and signing keys', async () => {
    const key = await json('admin-key', 'create', '--name', 'ci');
    expect(key.secret).toMatch(new RegExp(`^lk_${key.sid}_`));
    expect((await json('admin-key', 'list')).admin_keys).toEqual([expect.objectContaining({ sid: key.sid, name: 'ci' })]);
    const rotated = await json('signing-keys', 'rotate');
    expect((await json('signing-keys', 'list')).keys).toContainEqual(expect.objectContaining({ kid: rotated.kid, active: true }));
  });

  it('verifies tokens: exit 0 when valid, 1 when not', async () => {
    // A sign-in issued by "the server" (the same database and key), checked by the CLI.
    const services = await createServices(loadConfig(env), { logger: jsonLogger('silent') });
    const connection = (await services.accounts.connectionsOf(accountSid))[0]!;
    const user = await services.users.provision(accountSid, {
      uniqueId: 'ada@example.com',
      fullName: 'Ada',
      email: 'ada@example.com',
      roles: ['agent'],
      imageUrl: null,
      attributes: {},
    });
    const { accessToken } = await services.tokens.issueForLegacyLogin({
      accountSid,
      connectionSid: connection.sid,
      clientId: connection.clientId,
      userSid: user.sid,
      nonce: null,
      scope: null,
      authTime: Date.now(),
    });
    await services.storage.close();

    expect(await json('token', 'verify', accessToken, '--account', accountSid)).toMatchObject({
      valid: true,
      claims: { identity: 'ada_40example_2Ecom' },
      session: { active: true },
    });
    const bad = await lanyard('token', 'verify', 'not.a.jwt');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('NOT valid');
  });

  it('exits 2 with one clear line for a malformed SID', async () => {
    expectBadInput(await lanyard('trusted-urls', 'list', 'AC123'), /^lanyard: AccountSid must be an? account SID: AC followed by 32 hex characters/);
    expectBadInput(await lanyard('status', 'nope', '--json'), /AccountSid/);
  });

  it('exits 2 for an http Trusted URL on a public host', async () => {
    expectBadInput(await lanyard('trusted-urls', 'add', accountSid, 'http://example.com'), /http/i);
  });

  it('exits 2 naming the problem for a bad certificate or a missing file', async () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'hello');
    expectBadInput(
      await lanyard('sso', 'set', accountSid, '--issuer', 'x', '--sso-url', 'https://idp.example.com/sso', '--cert', garbage),
      /certificate/i,
    );
    expectBadInput(
      await lanyard('sso', 'set', accountSid, '--issuer', 'x', '--sso-url', 'https://idp.example.com/sso', '--cert', join(dir, 'absent.pem')),
      /certificate file .*ENOENT/,
    );
    expectBadInput(await lanyard('sso', 'set', accountSid, '--issuer', 'x'), /exactly one of|sso/i);
  });

  it('exits 2 for usage errors and 404s', async () => {
    expect((await lanyard('accounts', 'frobnicate')).code).toBe(2);
    const connection = `JQ${'0'.repeat(32)}`;
    expectBadInput(await lanyard('identity', 'set', connection, '--case-sensitive-email', '--case-insensitive-email'), /contradict each other/);
    expectBadInput(await lanyard('identity', 'set', connection, '--name-id', '--attribute', 'email'), /--name-id and --attribute contradict/);
    // A 404 says which database was read (the usual cause: another database), then the error.
    const missing = await lanyard('status', `AC${'0'.repeat(32)}`);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    const lines = missing.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^lanyard: database sqlite:\/\S+ \(LANYARD_DATABASE_URL\)$/);
    expect(lines.at(-1)).toBe(`lanyard: Account AC${'0'.repeat(32)} was not found.`);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});
