import { describe, expect, it } from 'vitest';
import { DEFAULT_MAPPING, type Account, type Connection } from '../accounts/model.ts';
import { appConfigResource, REDIRECT_PLACEHOLDER } from './app-config.ts';

const PUBLIC_URL = 'https://sso.example.com';
const account: Account = {
  sid: 'AC' + 'a'.repeat(32),
  friendlyName: 'Acme',
  instanceSid: 'GO' + 'b'.repeat(32),
  authTokenHash: 'x',
  trustedUrls: ['https://desktop.example.com/agent'],
  defaultRedirectUrl: 'https://desktop.example.com/agent/',
  idpInitiatedLogin: false,
  ssoMode: 'enhanced',
  modeChangedAt: null,
  previousMode: null,
  createdAt: 0,
};
const connection: Connection = {
  sid: 'JQ' + 'c'.repeat(32),
  accountSid: account.sid,
  clientId: 'client-1',
  protocol: 'saml',
  saml: null,
  mapping: DEFAULT_MAPPING,
  redirectUris: [],
  createdAt: 0,
};

/** Runs the snippet as a desktop would load it and returns what it set. */
function load(script: string): unknown {
  const window: { appConfig?: unknown } = {};
  new Function('window', script)(window);
  return window.appConfig;
}

describe('appConfigResource', () => {
  it('fills sso and oauth for enhanced SSO, pointing the desktop at this server', () => {
    const result = appConfigResource({ ...account, loginPopup: true }, connection, PUBLIC_URL);
    expect(result.legacy).toBeNull();
    expect(load(result.enhanced!.script)).toEqual({
      serviceBaseUrl: PUBLIC_URL,
      sso: { accountSid: account.sid, loginPopup: true },
      oauth: {
        connection: connection.sid,
        clientId: 'client-1',
        redirectUrl: 'https://desktop.example.com/agent/',
        authorizeUrl: `${PUBLIC_URL}/v1/Flex/Authorize`,
        tokenUrl: `${PUBLIC_URL}/v1/Flex/OAuth/Tokens`,
      },
    });
    expect(result.lookup_url).toBe(`${PUBLIC_URL}/v1/Flex/Authentication/Config?AccountSid=${account.sid}`);
  });

  it('gives the snippets of the modes the account accepts', () => {
    const legacy = appConfigResource({ ...account, ssoMode: 'legacy' }, connection, PUBLIC_URL);
    expect(legacy.enhanced).toBeNull();
    expect(load(legacy.legacy!.script)).toEqual({
      serviceBaseUrl: PUBLIC_URL,
      sso: {
        accountSid: account.sid,
        loginPopup: false,
        redirectUrl: 'https://desktop.example.com/agent/',
        loginUrl: `${PUBLIC_URL}/v1/Accounts/${account.sid}/authenticate`,
        tokenRefreshUrl: `${PUBLIC_URL}/v1/Accounts/${account.sid}/Tokens/refresh`,
      },
    });
    const both = appConfigResource({ ...account, ssoMode: 'both' }, connection, PUBLIC_URL);
    expect(both.enhanced).not.toBeNull();
    expect(both.legacy).not.toBeNull();
  });

  it('says what is missing instead of guessing', () => {
    const bare = appConfigResource({ ...account, trustedUrls: [], defaultRedirectUrl: null }, undefined, PUBLIC_URL);
    expect(bare.enhanced).toBeNull();
    expect(bare.notes).toEqual([expect.stringContaining('No Trusted URL yet'), expect.stringContaining('set the IdP first')]);
    const placeholder = appConfigResource({ ...account, trustedUrls: [], defaultRedirectUrl: null }, connection, PUBLIC_URL);
    expect((load(placeholder.enhanced!.script) as { oauth: { redirectUrl: string } }).oauth.redirectUrl).toBe(REDIRECT_PLACEHOLDER);
  });

  it('says a connection without an IdP needs one, and that legacy SSO needs SAML when the IdP is an OpenID Connect provider', () => {
    const noIdp = appConfigResource(account, connection, PUBLIC_URL);
    expect(noIdp.notes).toEqual([
      `Enhanced SSO needs an IdP on connection ${connection.sid}: set the IdP first (lanyard sso set or lanyard sso set-oidc).`,
    ]);
    const oidc: Connection = {
      ...connection,
      protocol: 'oidc',
      oidc: { issuer: 'https://op.example.com', clientId: 'lanyard', sealedClientSecret: null, scopes: 'openid' },
    };
    expect(appConfigResource({ ...account, ssoMode: 'both' }, oidc, PUBLIC_URL).notes).toEqual([
      expect.stringMatching(/^Legacy SSO speaks SAML only, .*https:\/\/op\.example\.com.*lanyard sso set, which replaces the provider/),
    ]);
    expect(appConfigResource(account, oidc, PUBLIC_URL).notes).toEqual([]);
  });

  it('keeps an account name from turning into code', () => {
    const hostile = appConfigResource({ ...account, friendlyName: 'Acme\u2028window.pwned = true;//' }, connection, PUBLIC_URL);
    const window: { appConfig?: unknown; pwned?: boolean } = {};
    new Function('window', hostile.enhanced!.script)(window);
    expect(window.pwned).toBeUndefined();
    expect(window.appConfig).toBeDefined();
  });
});
