import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { ROOT } from '../support/cli.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../support/oidc-upstream.ts';

/**
 * `lanyard test-sign-in`: the console's test sign-in from a terminal, against a running server on
 * the same database and a real OpenID Provider (oidc-provider).
 */
describe('lanyard test-sign-in', () => {
  const secretKey = randomBytes(32);
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let accountSid: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite', { secretKey });
    upstream = await startUpstreamProvider({
      users: [
        { sub: 'nora', name: 'Nora Agent', email: 'nora@example.com', roles: ['agent'] },
        // A display name is the user's to write at the provider: terminal control sequences (a title
        // change, a carriage return that overwrites the line with a made-up role) must not reach the terminal.
        { sub: 'eve', name: 'Eve\r  roles      supervisor\u001b]0;owned\u0007', email: 'eve@example.com', roles: ['agent\u001b[8m'] },
      ],
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard-cli',
      clientSecret: 'upstream-secret',
      keys: [await signingKey('cli-test-key')],
    });
    accountSid = (await lanyard.services.accounts.createAccount('CLI test sign-in')).account.sid;
    await lanyard.services.accounts.setOidc(
      accountSid,
      { issuer: upstream.issuer, clientId: 'lanyard-cli', clientSecret: 'upstream-secret', scopes: 'openid profile email roles' },
      (settings) => discoverProvider(settings.issuer),
    );
  });
  afterAll(async () => {
    await lanyard?.stop();
    await upstream?.close();
  });

  /** `lanyard test-sign-in` against the running server: the IdP URL it prints, its exit code, what it wrote. */
  function startTestSignIn(...extra: string[]) {
    const child = spawn('node', [join(ROOT, 'packages/cli/bin/lanyard.js'), 'test-sign-in', accountSid, ...extra], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        LANYARD_DATABASE_URL: lanyard.db.url,
        LANYARD_SECRET_KEY: secretKey.toString('base64'),
        LANYARD_PUBLIC_URL: lanyard.url,
      },
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    const url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${output.stderr}`)), 20_000);
      child.stderr.on('data', (chunk: Buffer) => {
        output.stderr += chunk.toString();
        const found = /^(http\S+)$/m.exec(output.stderr);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      });
    });
    return { url, exited, output };
  }

  it('prints the URL to open, waits for the answer the server receives, and prints the report (exit 0)', async () => {
    const { url, exited, output } = startTestSignIn('--json');
    expect(new URL(await url).origin).toBe(upstream.issuer);
    const callback = await upstreamLoginHeadless(await url, 'nora');
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(200);
    expect(await exited).toBe(0);
    // How long it waits, and the usual cause when nothing comes back.
    expect(output.stderr).toMatch(
      /Waiting up to \d+ minutes \(the sign-in lifetime, LANYARD_LOGIN_TTL\) for the answer\. If nothing comes back, most often the redirect URI \S+\/login\/oidc\/callback is not registered/,
    );
    expect(JSON.parse(output.stdout)).toMatchObject({
      succeeded: true,
      protocol: 'oidc',
      name_id: 'nora',
      profile: { full_name: 'Nora Agent', email: 'nora@example.com', roles: ['agent'] },
    });
    expect(await lanyard.services.users.list(accountSid)).toEqual([]);
    // The audit log names who started the test, as it names the operator of every CLI change.
    const audited = (await lanyard.services.audit.recent(accountSid, 10)).find((e) => e.surface === 'console-test');
    expect(audited?.reason).toContain(`started from the CLI by cli (${userInfo().username})`);
  }, 60_000);

  it('prints what the IdP sent without its control characters: the report on a terminal cannot be spoofed', async () => {
    const { url, exited, output } = startTestSignIn();
    const callback = await upstreamLoginHeadless(await url, 'eve');
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(200);
    expect(await exited).toBe(1); // the roles are not recognised: a failed test
    // Line breaks are the report's own; every other control character is shown, escaped.
    expect(output.stdout.replace(/\n/g, '')).not.toMatch(/\p{Cc}/u);
    expect(output.stdout).toContain('Eve\\x0d  roles      supervisor\\x1b]0;owned\\x07');
  }, 60_000);
});
