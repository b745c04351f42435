import { describe, expect, it } from 'vitest';
import { authenticationClaims, fromOidcClaims, fromSamlClassRef } from './authentication-context.ts';

const CLASSES = 'urn:oasis:names:tc:SAML:2.0:ac:classes:';

describe('authentication context (acr / amr)', () => {
  it('maps SAML classes with an RFC 8176 equivalent and keeps the class ref as acr', () => {
    expect(fromSamlClassRef(`${CLASSES}PasswordProtectedTransport`)).toEqual({ acr: `${CLASSES}PasswordProtectedTransport`, amr: ['pwd'] });
    expect(fromSamlClassRef(`${CLASSES}Password`).amr).toEqual(['pwd']);
    expect(fromSamlClassRef(`${CLASSES}Smartcard`).amr).toEqual(['sc']);
    expect(fromSamlClassRef(`${CLASSES}SmartcardPKI`).amr).toEqual(['sc', 'hwk']);
    expect(fromSamlClassRef(`${CLASSES}X509`).amr).toEqual(['pop']);
    expect(fromSamlClassRef(`${CLASSES}TimeSyncToken`).amr).toEqual(['otp']);
    expect(fromSamlClassRef('http://schemas.microsoft.com/claims/multipleauthn').amr).toEqual(['mfa']);
  });

  it('gives no amr for a class without a clear equivalent, and nothing without a class ref', () => {
    expect(fromSamlClassRef(`${CLASSES}unspecified`)).toEqual({ acr: `${CLASSES}unspecified` });
    expect(fromSamlClassRef(`${CLASSES}Kerberos`)).toEqual({ acr: `${CLASSES}Kerberos` });
    expect(fromSamlClassRef(undefined)).toEqual({});
    expect(fromSamlClassRef('  ')).toEqual({});
    expect(fromSamlClassRef('x'.repeat(513))).toEqual({});
    // A class ref named like an Object.prototype member is just an unknown class.
    expect(fromSamlClassRef('constructor')).toEqual({ acr: 'constructor' });
  });

  it("passes an upstream ID token's acr and amr through, dropping malformed values", () => {
    expect(fromOidcClaims({ acr: 'urn:example:loa:2', amr: ['pwd', 'otp'] })).toEqual({ acr: 'urn:example:loa:2', amr: ['pwd', 'otp'] });
    expect(fromOidcClaims({ acr: 2, amr: 'pwd' })).toEqual({});
    expect(fromOidcClaims({ amr: ['pwd', { a: 1 }] })).toEqual({});
    expect(fromOidcClaims({ amr: ['has space'] })).toEqual({});
    expect(fromOidcClaims({ amr: [] })).toEqual({});
  });

  it('puts only what is known in the ID token claims', () => {
    expect(authenticationClaims({})).toEqual({});
    expect(authenticationClaims({ acr: 'a', amr: [] })).toEqual({ acr: 'a' });
  });
});
