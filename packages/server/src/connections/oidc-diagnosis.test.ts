import { describe, expect, it } from 'vitest';
import { InvalidSsoSettingsError } from '../errors.ts';
import type { VerifiedSignIn } from './connection-protocol.ts';
import { OidcResponseError } from './oidc-connection.ts';
import { oidcDiagnosis } from './oidc-diagnosis.ts';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const signIn = (authTime: number | undefined): VerifiedSignIn => ({
  subject: { id: 'nora', format: undefined },
  issuer: 'https://op.example.test',
  attributes: {},
  authTime,
  authnContext: {},
});

describe('oidcDiagnosis', () => {
  it("explains the provider's own error codes, and adds nothing to other refusals", () => {
    expect(oidcDiagnosis(new OidcResponseError('access_denied: End-User aborted interaction', 'access_denied'))).toEqual([
      expect.stringMatching(/^The provider refused the sign-in \(access_denied\).*Assign the user/),
    ]);
    expect(oidcDiagnosis(new OidcResponseError('invalid_client', 'invalid_client'))[0]).toMatch(/client ID and client secret/);
    // A public client refused with invalid_client: "no secret", not "wrong secret", is the cause.
    expect(oidcDiagnosis(new OidcResponseError('invalid_client', 'invalid_client'), NOW, false)[0]).toMatch(
      /no client secret is stored for this connection \(it is a public client\).*--client-secret-file/,
    );
    const known = { accountSid: 'AC' + '2'.repeat(32), settings: { issuer: 'https://login.example.com', clientId: 'lanyard' } };
    expect(oidcDiagnosis(new OidcResponseError('invalid_client', 'invalid_client'), NOW, false, known)[0]).toContain(
      `lanyard sso set-oidc ${known.accountSid} --issuer https://login.example.com --client-id lanyard --client-secret-file <file>`,
    );
    expect(oidcDiagnosis(new OidcResponseError('unexpected JWT "nonce" claim value'))).toEqual([]);
    expect(oidcDiagnosis(new OidcResponseError('something new', 'temporarily_unavailable'))).toEqual([]);
    expect(oidcDiagnosis(new InvalidSsoSettingsError('the connection has no identity provider settings'))).toEqual([]);
  });

  it('notes an ID token without auth_time and an authentication reused from the provider session', () => {
    expect(oidcDiagnosis(signIn(undefined), NOW)).toEqual([expect.stringContaining('no auth_time')]);
    expect(oidcDiagnosis(signIn(NOW - 3600_000), NOW)).toEqual([expect.stringContaining('reused an authentication from 2026-11-30T11:00:00.000Z')]);
    expect(oidcDiagnosis(signIn(NOW - 60_000), NOW)).toEqual([]);
  });
});
