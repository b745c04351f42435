import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../crypto/secret-box.ts';
import { InvalidParameterError } from '../errors.ts';
import { clientSecretChange, oidcSettings } from './oidc-settings.ts';

const secrets = new SecretBox(randomBytes(32));
const ISSUER = 'https://op.example.test';

describe('oidcSettings', () => {
  const first = oidcSettings({ issuer: `${ISSUER}/`, clientId: 'lanyard', clientSecret: 's3cret', scopes: 'openid profile email roles' }, secrets);

  it('seals a given secret and keeps it when the same issuer and client ID are saved again without one', () => {
    expect(secrets.open(first.sealedClientSecret!)).toBe('s3cret');
    const again = oidcSettings({ issuer: ISSUER, clientId: 'lanyard' }, secrets, first);
    expect(again.sealedClientSecret).toBe(first.sealedClientSecret);
    // The scopes of the same client are kept too; a new value replaces them.
    expect(again.scopes).toBe('openid profile email roles');
    expect(clientSecretChange(first, again)).toBe('kept');
    const replaced = oidcSettings({ issuer: ISSUER, clientId: 'lanyard', clientSecret: 'other', scopes: 'openid email' }, secrets, first);
    expect(secrets.open(replaced.sealedClientSecret!)).toBe('other');
    expect(replaced.scopes).toBe('openid email');
    expect(clientSecretChange(first, replaced)).toBe('stored');
  });

  it('becomes a public client only when told, and never silently with a new issuer or client ID', () => {
    const publicClient = oidcSettings({ issuer: ISSUER, clientId: 'lanyard', publicClient: true }, secrets, first);
    expect(publicClient.sealedClientSecret).toBeNull();
    expect(clientSecretChange(first, publicClient)).toBe('removed');
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'other-client' }, secrets, first)).toThrow(/client ID changed.*--public-client/);
    expect(() => oidcSettings({ issuer: 'https://elsewhere.example.test', clientId: 'lanyard' }, secrets, first)).toThrow(InvalidParameterError);
    const moved = oidcSettings({ issuer: 'https://elsewhere.example.test', clientId: 'lanyard', publicClient: true }, secrets, first);
    expect(moved).toMatchObject({ sealedClientSecret: null, scopes: 'openid profile email' });
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', clientSecret: 'x', publicClient: true }, secrets)).toThrow(/not both/);
    // A public client saved again stays one; a new connection without a secret is one.
    expect(clientSecretChange(publicClient, oidcSettings({ issuer: ISSUER, clientId: 'other' }, secrets, publicClient))).toBe('none');
    expect(clientSecretChange(null, oidcSettings({ issuer: ISSUER, clientId: 'lanyard' }, secrets))).toBe('none');
  });

  it('refuses scopes without openid (OpenID Connect Core §3.1.2.1), naming the fix', () => {
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'profile email' }, secrets)).toThrow(
      /scopes must contain "openid" \(OpenID Connect Core §3\.1\.2\.1.*--scopes "openid profile email"/,
    );
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'openidx' }, secrets)).toThrow(/must contain "openid"/);
    expect(oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'email  openid' }, secrets).scopes).toBe('email  openid');
  });
});
