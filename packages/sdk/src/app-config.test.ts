import { describe, expect, it } from 'vitest';
import { MISSING_ACCOUNT_SID, validateAppConfig, type AppConfigResult } from './app-config.ts';

const AC = 'AC' + 'a'.repeat(32);
const JQ = 'JQ' + 'b'.repeat(32);
const PAGE = 'https://desktop.example.com/agents/?tab=1#top';
const enhanced = (oauth: Record<string, unknown> = {}, sso: Record<string, unknown> = {}) => ({
  sso: { accountSid: AC, ...sso },
  oauth: {
    connection: JQ,
    clientId: 'client-1',
    redirectUrl: 'https://desktop.example.com/agents/',
    serviceBaseUrl: 'https://sso.example.com/',
    ...oauth,
  },
});
const check = (input: unknown, pageUrl = PAGE) => validateAppConfig(input, { pageUrl });
const problems = (result: AppConfigResult) => (result.ok ? [] : result.problems);
const fields = (result: AppConfigResult) => problems(result).map((p) => p.field);

describe('validateAppConfig', () => {
  it('chooses enhanced SSO when oauth exists and resolves its endpoints from serviceBaseUrl', () => {
    const result = check(enhanced());
    expect(result).toEqual({
      ok: true,
      warnings: [],
      config: {
        mode: 'enhanced',
        accountSid: AC,
        loginPopup: false,
        loginPopupFeatures: undefined,
        connection: JQ,
        clientId: 'client-1',
        redirectUrl: 'https://desktop.example.com/agents/',
        authorizeUrl: 'https://sso.example.com/v1/Flex/Authorize',
        tokenUrl: 'https://sso.example.com/v1/Flex/OAuth/Tokens',
        revokeUrl: 'https://sso.example.com/oauth2/revoke',
      },
    });
  });

  it('takes loginPopup from sso or oauth in enhanced mode, and ignores loginPopupFeatures there as the real Flex UI does', () => {
    const result = check(enhanced({}, { loginPopup: true, loginPopupFeatures: 'width=400,height=600' }));
    expect(result.ok && result.config).toMatchObject({ loginPopup: true, loginPopupFeatures: undefined });
    expect(result.warnings).toEqual([{ field: 'sso.loginPopupFeatures', message: expect.stringContaining('ignored in enhanced SSO') }]);
    // Manager.create honours oauth.loginPopup; provideLoginInfo reads sso.loginPopup: both are set to agree.
    const oauthOnly = check(enhanced({ loginPopup: true }));
    expect(oauthOnly.ok && oauthOnly.config.loginPopup).toBe(true);
    expect(oauthOnly.warnings).toEqual([{ field: 'oauth.loginPopup', message: expect.stringContaining('set sso.loginPopup to true too') }]);
    expect(fields(check(enhanced({ loginPopup: 'yes' })))).toEqual(['oauth.loginPopup']);
  });

  it('reads Lanyard from the top-level serviceBaseUrl; with flexUi, says where the real Flex UI would call Twilio', () => {
    const top = check({
      serviceBaseUrl: 'https://sso.example.com',
      sso: { accountSid: AC },
      oauth: { connection: JQ, clientId: 'c', redirectUrl: 'https://desktop.example.com/agents/' },
    });
    expect(top.ok && top.config).toMatchObject({ authorizeUrl: 'https://sso.example.com/v1/Flex/Authorize' });
    expect(top.warnings).toEqual([]);
    const strict = validateAppConfig(
      {
        serviceBaseUrl: 'https://sso.example.com',
        sso: { accountSid: AC },
        oauth: { connection: JQ, clientId: 'c', redirectUrl: 'https://desktop.example.com/agents/' },
      },
      { pageUrl: PAGE, flexUi: true },
    );
    expect(strict.warnings.map((w) => w.field)).toEqual(['oauth.authorizeUrl', 'oauth.tokenUrl']);
    expect(strict.warnings[0]!.message).toContain('Set oauth.authorizeUrl to "https://sso.example.com/v1/Flex/Authorize"');
    // oauth.serviceBaseUrl still works for the SDK, but the real client overwrites it: move it.
    const nested = validateAppConfig(
      enhanced({ authorizeUrl: 'https://sso.example.com/v1/Flex/Authorize', tokenUrl: 'https://sso.example.com/v1/Flex/OAuth/Tokens' }),
      {
        pageUrl: PAGE,
        flexUi: true,
      },
    );
    expect(nested.ok).toBe(true);
    expect(nested.warnings).toEqual([{ field: 'oauth.serviceBaseUrl', message: expect.stringContaining('move it to the top level') }]);
    const legacy = validateAppConfig({ serviceBaseUrl: 'https://sso.example.com', sso: { accountSid: AC } }, { pageUrl: PAGE, flexUi: true });
    expect(legacy.warnings.map((w) => w.field)).toEqual(['sso.loginUrl', 'sso.tokenRefreshUrl']);
  });

  it('chooses legacy SSO without oauth: redirectUrl defaults to the page without query or fragment, {accountSid} is filled in', () => {
    const result = check({
      sso: { accountSid: AC, serviceBaseUrl: 'https://sso.example.com/base', tokenRefreshUrl: 'https://tokens.example.com/{accountSid}/refresh' },
    });
    expect(result.ok && result.config).toEqual({
      mode: 'legacy',
      accountSid: AC,
      loginPopup: false,
      loginPopupFeatures: undefined,
      redirectUrl: 'https://desktop.example.com/agents/',
      loginUrl: `https://sso.example.com/base/v1/Accounts/${AC}/authenticate`,
      tokenRefreshUrl: `https://tokens.example.com/${AC}/refresh`,
      idpUrl: undefined,
    });
  });

  it('says exactly "Invalid or missing configuration: accountSid is required" when accountSid is missing, blank or sso is absent', () => {
    for (const input of [{ sso: {} }, { sso: { accountSid: ' ' } }, {}, { oauth: enhanced().oauth }]) {
      expect(problems(check(input))).toContainEqual({ field: 'sso.accountSid', message: MISSING_ACCOUNT_SID });
    }
    expect(MISSING_ACCOUNT_SID).toBe('Invalid or missing configuration: accountSid is required');
  });

  it('names malformed SIDs with the expected form', () => {
    const result = check(enhanced({ connection: 'JQ123' }, { accountSid: 'AC' + 'z'.repeat(32) }));
    expect(problems(result)).toEqual([
      { field: 'sso.accountSid', message: expect.stringMatching(/"ACz+" is not an account SID: it must be "AC" followed by 32 hex characters/) },
      { field: 'oauth.connection', message: expect.stringMatching(/"JQ123" is not an SSO profile SID: it must be "JQ" followed by 32 hex/) },
    ]);
  });

  it('requires oauth.redirectUrl on a self-hosted origin, and defaults it on hosted Flex', () => {
    const withoutRedirect = enhanced({ redirectUrl: undefined });
    expect(problems(check(withoutRedirect))).toEqual([
      {
        field: 'oauth.redirectUrl',
        message: expect.stringContaining('required on a self-hosted desktop: set it to this desktop\'s address, e.g. "https://desktop.example.com/"'),
      },
    ]);
    const hosted = check(withoutRedirect, 'https://flex.twilio.com/agent-desktop/');
    expect(hosted.ok && hosted.config.redirectUrl).toBe('https://flex.twilio.com/');
  });

  it('refuses a redirectUrl on another origin than the page, naming both origins', () => {
    const result = check(enhanced({ redirectUrl: 'https://other.example.com/' }));
    expect(problems(result)).toEqual([
      {
        field: 'oauth.redirectUrl',
        message: expect.stringMatching(
          /is on https:\/\/other\.example\.com, but this page is on https:\/\/desktop\.example\.com.*Use an address on https:\/\/desktop\.example\.com/,
        ),
      },
    ]);
    expect(fields(check({ sso: { accountSid: AC, serviceBaseUrl: 'https://sso.example.com', redirectUrl: 'http://desktop.example.com/' } }))).toEqual(
      ['sso.redirectUrl'],
    );
  });

  it('refuses redirect URLs with a query or fragment, and plain http outside loopback', () => {
    expect(problems(check(enhanced({ redirectUrl: 'https://desktop.example.com/?a=1' })))[0]!.message).toMatch(
      /must not have a query string or fragment/,
    );
    expect(problems(check(enhanced({ serviceBaseUrl: 'http://sso.example.com' })))).toEqual([
      {
        field: 'oauth.serviceBaseUrl',
        message: expect.stringContaining('must use https:// (http:// is accepted only for localhost, 127.0.0.1 and [::1])'),
      },
    ]);
    const loopback = check(enhanced({ redirectUrl: 'http://127.0.0.1:5173/', serviceBaseUrl: 'http://127.0.0.1:4000' }), 'http://127.0.0.1:5173/');
    expect(loopback.ok).toBe(true);
  });

  it('names popup settings of the wrong type, and features that would cut the pop-up off from the page', () => {
    const result = check(enhanced({}, { loginPopup: 'yes', loginPopupFeatures: { width: 400 } }));
    expect(problems(result)).toEqual([
      { field: 'sso.loginPopup', message: 'sso.loginPopup must be true or false (got "yes").' },
      {
        field: 'sso.loginPopupFeatures',
        message: expect.stringContaining('must be a string of window.open features such as "width=500,height=650" (got an object)'),
      },
    ]);
    expect(fields(check(enhanced({}, { loginPopupFeatures: 'width=400,noopener' })))).toEqual(['sso.loginPopupFeatures']);
  });

  it('reports every problem at once, each with its field', () => {
    const result = check({ sso: { loginPopup: 1 }, oauth: { clientId: 'has space', redirectUrl: 'not a url' } });
    expect(fields(result)).toEqual(['sso.accountSid', 'sso.loginPopup', 'oauth.connection', 'oauth.clientId', 'oauth.redirectUrl', 'serviceBaseUrl']);
  });

  it('accepts explicit endpoint overrides without serviceBaseUrl', () => {
    const result = check(
      enhanced({ serviceBaseUrl: undefined, authorizeUrl: 'https://a.example.com/authorize', tokenUrl: 'https://t.example.com/x/token' }),
    );
    expect(result.ok && result.config).toMatchObject({
      authorizeUrl: 'https://a.example.com/authorize',
      tokenUrl: 'https://t.example.com/x/token',
      revokeUrl: 'https://t.example.com/oauth2/revoke',
    });
    expect(fields(check({ sso: { accountSid: AC } }))).toEqual(['serviceBaseUrl']);
  });

  it('warns about unknown and misplaced settings without failing', () => {
    const result = check(enhanced({ clientID: 'x', loginPopup: true }, { redirectUrl: 'https://desktop.example.com/' }));
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      { field: 'oauth.clientID', message: 'oauth.clientID is not a setting the SDK knows and is ignored (did you mean oauth.clientId?).' },
      { field: 'oauth.loginPopup', message: expect.stringContaining('set sso.loginPopup to true too') },
      {
        field: 'sso.redirectUrl',
        message: expect.stringContaining('ignored in enhanced SSO (appConfig has an oauth section): oauth.redirectUrl is used'),
      },
    ]);
  });

  it('explains a missing or malformed appConfig', () => {
    expect(problems(check(undefined))).toEqual([
      { field: 'appConfig', message: expect.stringContaining('window.appConfig is missing or not an object') },
    ]);
    expect(problems(check({ sso: 'AC1', oauth: [] }))).toContainEqual({
      field: 'oauth',
      message: expect.stringContaining('appConfig.oauth must be an object'),
    });
  });
});
