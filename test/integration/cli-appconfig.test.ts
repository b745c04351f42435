import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { cliSandbox, expectBadInput } from '../support/cli.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const ORIGIN = 'http://127.0.0.1:5173';

/** `lanyard appconfig check`, the real CLI, against files as desktops write them and a real server. */
describe('lanyard appconfig check', () => {
  const { dir, lanyard, cleanup } = cliSandbox();
  let server: TestLanyard;
  let idp: DevIdp;
  let accountSid: string;
  let connection: { sid: string; clientId: string };

  const file = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  };
  const enhanced = (oauth: Record<string, unknown> = {}) =>
    `// appConfig.js for the agent desktop\nwindow.appConfig = ${JSON.stringify({
      logLevel: 'info',
      sso: { accountSid, loginPopup: true, loginPopupFeatures: 'width=500,height=650' },
      oauth: { connection: connection.sid, clientId: connection.clientId, redirectUrl: `${ORIGIN}/desktop/`, serviceBaseUrl: server.url, ...oauth },
    })};\n`;

  beforeAll(async () => {
    [server, idp] = await Promise.all([startTestLanyard('sqlite'), startDevIdp({ port: 0 })]);
    const setup = await setupAccount(server, idp);
    accountSid = setup.account.sid;
    connection = { sid: setup.connection.sid, clientId: setup.connection.clientId };
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), idp?.close()]);
    cleanup();
  });

  it('accepts a correct file, says which SSO it selects and which endpoints the SDK will call', async () => {
    const run = await lanyard('appconfig', 'check', file('good.js', enhanced()), '--origin', `${ORIGIN}/desktop/`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('OK (enhanced SSO, because appConfig has an oauth section)');
    expect(run.stdout).toMatch(new RegExp(`token URL\\s+${server.url}/v1/Flex/OAuth/Tokens`));
    // The real Flex UI's enhanced pop-up ignores loginPopupFeatures; so do the SDK and the checker.
    expect(run.stdout).toMatch(/sign-in\s+pop-up\n/);
    expect(run.stdout).toContain('sso.loginPopupFeatures is ignored in enhanced SSO');
    // Where the real Flex UI would still call Twilio's hosts, and how to fix it.
    expect(run.stdout).toContain(`Set oauth.authorizeUrl to "${server.url}/v1/Flex/Authorize"`);
    expect(run.stdout).toContain('oauth.serviceBaseUrl is not where the Flex UI reads it');
  });

  it('lists every problem with its field and the fix, and exits 2', async () => {
    const bad = `var appConfig = { sso: { loginPopupFeatures: { width: 500 } }, oauth: { connection: 'JQ12', clientId: 'x', redirectUrl: 'https://elsewhere.example.com/', serviceBaseUrl: '${server.url}' } };`;
    const run = await lanyard('appconfig', 'check', file('bad.js', bad), '--origin', ORIGIN);
    expect(run.code).toBe(2);
    expect(run.stdout.split('\n').filter((l) => l.startsWith('  ✗'))).toEqual([
      '  ✗ sso.accountSid: Invalid or missing configuration: accountSid is required',
      expect.stringMatching(/^ {2}✗ sso\.loginPopupFeatures: .*must be a string of window\.open features/),
      expect.stringMatching(/^ {2}✗ oauth\.connection: oauth\.connection "JQ12" is not an SSO profile SID: it must be "JQ" followed by 32 hex/),
      expect.stringMatching(
        /^ {2}✗ oauth\.redirectUrl: .*is on https:\/\/elsewhere\.example\.com, but this page is on http:\/\/127\.0\.0\.1:5173.*Use an address on http:\/\/127\.0\.0\.1:5173/,
      ),
    ]);
    const json = await lanyard('appconfig', 'check', join(dir, 'bad.js'), '--origin', ORIGIN, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      problems: expect.arrayContaining([{ field: 'sso.accountSid', message: 'Invalid or missing configuration: accountSid is required' }]),
    });
  });

  it('requires oauth.redirectUrl on a self-hosted origin', async () => {
    const run = await lanyard('appconfig', 'check', file('no-redirect.js', enhanced({ redirectUrl: undefined })), '--origin', ORIGIN);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(
      `✗ oauth.redirectUrl: oauth.redirectUrl is required on a self-hosted desktop: set it to this desktop's address, e.g. "${ORIGIN}/"`,
    );
  });

  it('--server compares connection and clientId with the public lookup', async () => {
    const good = await lanyard('appconfig', 'check', file('good.js', enhanced()), '--origin', ORIGIN, '--server', server.url);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(
      `server: connection and clientId compared with ${server.url}/v1/Flex/Authentication/Config?AccountSid=${accountSid}`,
    );

    const wrongClient = await lanyard(
      'appconfig',
      'check',
      file('wrong-client.js', enhanced({ clientId: 'not-the-client' })),
      '--origin',
      ORIGIN,
      '--server',
      server.url,
    );
    expect(wrongClient.code).toBe(2);
    expect(wrongClient.stdout).toContain(
      `✗ oauth.clientId: oauth.clientId "not-the-client" does not match connection ${connection.sid} on ${server.url}: use "${connection.clientId}".`,
    );

    const otherConnection = 'JQ' + 'f'.repeat(32);
    const wrongConnection = await lanyard(
      'appconfig',
      'check',
      file('wrong-connection.js', enhanced({ connection: otherConnection })),
      '--origin',
      ORIGIN,
      '--server',
      server.url,
    );
    expect(wrongConnection.code).toBe(2);
    expect(wrongConnection.stdout).toContain(
      `✗ oauth.connection: oauth.connection ${otherConnection} is not a connection of ${accountSid} on ${server.url}: use ${connection.sid}.`,
    );

    // An account the server does not hold (most often: the server runs on another database) is not
    // blamed on the identity provider setup alone.
    const elsewhere = 'AC' + 'e'.repeat(32);
    const unknownAccount = file('unknown-account.js', enhanced().replace(`"accountSid":"${accountSid}"`, `"accountSid":"${elsewhere}"`));
    const unknown = await lanyard('appconfig', 'check', unknownAccount, '--origin', ORIGIN, '--server', server.url);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toContain(
      `✗ sso.accountSid: ${server.url} lists no enhanced SSO for ${elsewhere}. Either that server does not hold the account`,
    );
    expect(unknown.stdout).toContain(`lanyard status ${elsewhere}`);
  });

  it('refuses unreadable and broken files and bad options in one line', async () => {
    expectBadInput(await lanyard('appconfig', 'check', join(dir, 'missing.js'), '--origin', ORIGIN), /missing\.js cannot be read \(ENOENT\)/);
    expectBadInput(
      await lanyard('appconfig', 'check', file('syntax.js', 'window.appConfig = { sso: '), '--origin', ORIGIN),
      /syntax\.js does not run: Unexpected end of input/,
    );
    expectBadInput(
      await lanyard('appconfig', 'check', file('x.js', enhanced()), '--origin', 'desktop.example.com'),
      /--origin must be an absolute http\(s\) URL/,
    );
    expectBadInput(await lanyard('appconfig', 'check', join(dir, 'x.js')), /required option '--origin <url>' not specified/);
  });

  it('reads JSON files too, and legacy configs (no oauth)', async () => {
    const legacy = file('legacy.json', JSON.stringify({ sso: { accountSid, serviceBaseUrl: server.url } }));
    const run = await lanyard('appconfig', 'check', legacy, '--origin', `${ORIGIN}/legacy/`, '--server', server.url);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('OK (legacy SSO, because appConfig has no oauth section)');
    expect(run.stdout).toMatch(new RegExp(`login URL\\s+${server.url}/v1/Accounts/${accountSid}/authenticate`));
    expect(run.stdout).toMatch(/redirect URL\s+http:\/\/127\.0\.0\.1:5173\/legacy\//);
  });
});
