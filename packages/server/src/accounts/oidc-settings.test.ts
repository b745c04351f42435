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

  it('says scopes are separated by spaces, and that openid is lower case, with the corrected value', () => {
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'openid,profile,email' }, secrets)).toThrow(
      /separated by spaces, not commas.*got "openid,profile,email".*--scopes "openid profile email"/,
    );
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'profile, email' }, secrets)).toThrow(/--scopes "openid profile email"/);
    const capitals = () => oidcSettings({ issuer: ISSUER, clientId: 'lanyard', scopes: 'OpenID profile roles' }, secrets);
    expect(capitals).toThrow(/must contain "openid".*case-sensitive.*--scopes "openid profile roles"/);
    expect(capitals).not.toThrow(/OpenID profile roles"\.$/);
  });

  it('names the stored and the given issuer and client ID when they changed, so a typo shows', () => {
    const typo = () => oidcSettings({ issuer: 'https://op.example.tset/', clientId: 'lanyard' }, secrets, first);
    expect(typo).toThrow(`The issuer changed (the stored issuer is ${ISSUER}, you gave https://op.example.tset)`);
    expect(typo).toThrow(/correct --issuer; if it is a new client, give its secret.*--public-client/);
    expect(() => oidcSettings({ issuer: ISSUER, clientId: 'lanyrad' }, secrets, first)).toThrow(
      /The client ID changed \(the stored client ID is lanyard, you gave lanyrad\).*correct --client-id;/,
    );
    expect(() => oidcSettings({ issuer: 'https://other.example.test', clientId: 'x' }, secrets, first)).toThrow(
      /The issuer and client ID changed \(the stored issuer is .*; the stored client ID is lanyard, you gave x\).*correct --issuer and --client-id;/,
    );
  });
});
