import { describe, expect, it } from 'vitest';
import { missingScopeCause, setOidcCommand, standardScopeOf } from './oidc-scopes.ts';

describe('missingScopeCause (OpenID Connect Core §5.4)', () => {
  it('names the standard scope that releases a missing standard claim, with the set-oidc fix', () => {
    expect(standardScopeOf('email_verified')).toBe('email');
    expect(standardScopeOf('given_name')).toBe('profile');
    expect(standardScopeOf('roles')).toBeUndefined();
    const cause = missingScopeCause({ scopes: 'openid profile' }, ['email', 'mail']);
    expect(cause).toContain('requests the scopes "openid profile", without "email"');
    expect(cause).toContain('releases "email" only with that scope (OpenID Connect Core §5.4)');
    expect(cause).toContain('--scopes "openid profile email"');
    expect(missingScopeCause({ scopes: 'openid' }, ['name', 'displayName'])).toContain('--scopes "openid profile"');
  });

  it('fills the fix command with what the connection knows, so that it runs as printed', () => {
    const settings = { scopes: 'openid profile', issuer: 'https://login.example.com/tenant a', clientId: 'lanyard' };
    expect(missingScopeCause(settings, ['email'], 'AC' + '1'.repeat(32))).toContain(
      `lanyard sso set-oidc AC${'1'.repeat(32)} --issuer 'https://login.example.com/tenant a' --client-id lanyard --scopes "openid profile email"`,
    );
    expect(setOidcCommand({})).toBe('lanyard sso set-oidc <AccountSid> --issuer <issuer> --client-id <client id>');
    expect(setOidcCommand({ issuer: "https://idp.example/o'brien", clientId: 'x' }, 'AC1')).toBe(
      `lanyard sso set-oidc AC1 --issuer 'https://idp.example/o'\\''brien' --client-id x`,
    );
  });

  it('says roles and groups need a scope the provider defines, and blames nothing when the scopes are there', () => {
    expect(missingScopeCause({ scopes: 'openid profile email' }, ['roles', 'groups'])).toMatch(
      /no standard scope releases "roles", "groups": request a scope your provider defines, e\.g\. roles or groups/,
    );
    expect(missingScopeCause({ scopes: 'openid profile email roles' }, ['roles', 'groups'])).toBeNull();
    expect(missingScopeCause({ scopes: 'openid profile email' }, ['email'])).toBeNull();
  });
});
