import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPING, type Account, type Connection } from '../accounts/model.ts';
import { setupReport } from './setup-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'lanyard-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function selfSignedCertificate(days: number): string {
  const cert = join(dir, `cert-${days}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=idp', '-days', String(days), '-keyout', join(dir, 'key.pem'), '-out', cert],
    { stdio: 'ignore' },
  );
  return readFileSync(cert, 'utf8');
}

const account = (changes: Partial<Account> = {}): Account => ({
  sid: 'AC' + 'a'.repeat(32),
  friendlyName: 'Test',
  instanceSid: 'GO' + 'a'.repeat(32),
  authTokenHash: '',
  trustedUrls: [],
  defaultRedirectUrl: null,
  idpInitiatedLogin: false,
  ssoMode: 'enhanced',
  modeChangedAt: null,
  previousMode: null,
  createdAt: 0,
  ...changes,
});

const connection = (certificates: string[]): Connection => ({
  sid: 'JQ' + 'a'.repeat(32),
  accountSid: 'AC' + 'a'.repeat(32),
  clientId: 'client',
  protocol: 'saml',
  saml: { issuer: 'https://idp.example.com', ssoUrl: 'https://idp.example.com/sso', certificates, metadataUrl: null, clockSkewSeconds: 120 },
  mapping: DEFAULT_MAPPING,
  redirectUris: [],
  createdAt: 0,
});

describe('setupReport', () => {
  it('lists everything a new account lacks, per mode', () => {
    const report = setupReport(account(), []);
    expect(report.enhanced.ready).toBe(false);
    expect(report.enhanced.missing).toEqual([
      expect.stringContaining('no IdP connection'),
      expect.stringContaining('no Trusted URL'),
      expect.stringContaining('no Domain redirect URL'),
    ]);
    expect(report.legacy.missing).toEqual([
      expect.stringContaining('no IdP connection'),
      expect.stringContaining('no Trusted URL'),
      expect.stringContaining('legacy SSO is switched off'),
    ]);
  });

  it('is ready once connection, Trusted URL and redirect URL exist; warns about certificates near expiry', () => {
    const pem = selfSignedCertificate(10);
    const report = setupReport(
      account({ trustedUrls: ['https://desk.example.com'], defaultRedirectUrl: 'https://desk.example.com', ssoMode: 'both' }),
      [connection([pem])],
    );
    expect(report.enhanced).toEqual({ ready: true, missing: [] });
    expect(report.legacy).toEqual({ ready: true, missing: [] });
    expect(report.warnings).toEqual([expect.stringMatching(/CN=idp expires in (9|10) days/)]);
  });

  it('blocks both modes when every certificate has expired', () => {
    const pem = selfSignedCertificate(1);
    const report = setupReport(
      account({ trustedUrls: ['https://desk.example.com'], ssoMode: 'legacy' }),
      [connection([pem])],
      Date.now() + 3 * 86_400_000,
    );
    expect(report.legacy.missing).toEqual([expect.stringContaining('no valid IdP certificate')]);
    expect(report.enhanced.missing).toContain('no Domain redirect URL (lanyard redirect-url set)');
    expect(report.warnings[0]).toMatch(/expired on/);
  });

  const oidcConnection = (): Connection => ({
    ...connection([]),
    protocol: 'oidc',
    saml: null,
    oidc: { issuer: 'https://op.example.com', clientId: 'lanyard', sealedClientSecret: null, scopes: 'openid profile email' },
  });

  it('names both commands when there is no IdP at all, so neither protocol is pushed on the administrator', () => {
    const [idp] = setupReport(account(), []).enhanced.missing;
    expect(idp).toBe('no IdP connection (lanyard sso set for a SAML IdP, or lanyard sso set-oidc for an OpenID Connect provider)');
    // A connection created before its IdP (console "Create the connection") has no IdP either.
    const bare: Connection = { ...connection([]), saml: null, oidc: null };
    expect(setupReport(account(), [bare]).enhanced.missing[0]).toBe(idp);
  });

  it('counts an OpenID Connect provider as the IdP: enhanced SSO is ready, and nothing points at the SAML command', () => {
    const report = setupReport(
      account({ trustedUrls: ['https://desk.example.com'], defaultRedirectUrl: 'https://desk.example.com', ssoMode: 'enhanced' }),
      [oidcConnection()],
    );
    expect(report.enhanced).toEqual({ ready: true, missing: [] });
    expect(report.warnings).toEqual([]);
    expect(report.legacy.missing.join('\n')).not.toMatch(/no IdP connection|no IdP certificate/);
  });

  it('says legacy SSO needs a SAML IdP for an OpenID Connect account, and that the SAML command would replace the provider', () => {
    const report = setupReport(account({ trustedUrls: ['https://desk.example.com'], ssoMode: 'both' }), [oidcConnection()]);
    expect(report.enhanced.missing).toEqual(['no Domain redirect URL (lanyard redirect-url set)']);
    expect(report.legacy).toEqual({
      ready: false,
      missing: [
        'no SAML IdP: legacy SSO speaks SAML only, and this account signs in through the OpenID Connect provider https://op.example.com (lanyard sso set would replace it)',
      ],
    });
  });

  it('warns when IdP-initiated login is on without a place to land', () => {
    expect(setupReport(account({ idpInitiatedLogin: true }), []).warnings).toEqual([expect.stringContaining('no Default redirect URL')]);
  });
});
