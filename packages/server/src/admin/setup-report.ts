import { describeCertificate } from '../accounts/certificates.ts';
import { hasIdentityProvider, type Account, type Connection, type SamlIdpSettings } from '../accounts/model.ts';

/** A certificate due to expire within this many days is worth a warning. */
export const CERTIFICATE_WARNING_DAYS = 30;

export interface ReadinessReport {
  ready: boolean;
  /** Each item names one thing an administrator must still do, with the command that does it. */
  missing: string[];
}

export interface SetupReport {
  enhanced: ReadinessReport;
  legacy: ReadinessReport;
  /** Not blocking now, but will be: certificates near expiry, odd combinations. */
  warnings: string[];
}

/** The commands that set an account's IdP: each replaces whatever the connection had before. */
export const SET_SAML_IDP = 'lanyard sso set';
export const SET_OIDC_IDP = 'lanyard sso set-oidc';

/**
 * What an account still lacks for enhanced and for legacy SSO. It mirrors the checks the login
 * services make at sign-in time, so an administrator learns about them before an agent does.
 * A connection has an IdP when it has SAML settings or an OpenID Connect provider
 * (`hasIdentityProvider`); each item names the command for what is missing, never one that would
 * replace a working IdP of the other protocol.
 */
export function setupReport(account: Account, connections: Connection[], now = Date.now()): SetupReport {
  const connection = connections.find(hasIdentityProvider);
  const shared: string[] = [];
  const legacyOnly: string[] = [];
  const warnings: string[] = [];

  if (!connection) {
    shared.push(`no IdP connection (${SET_SAML_IDP} for a SAML IdP, or ${SET_OIDC_IDP} for an OpenID Connect provider)`);
  } else if (connection.saml) {
    shared.push(...samlIdpMissing(connection.saml, now, warnings));
  } else {
    // Legacy SSO is SAML only (login/connection-protocols.ts refuses an OIDC connection there).
    legacyOnly.push(
      `no SAML IdP: legacy SSO speaks SAML only, and this account signs in through the OpenID Connect provider ${connection.oidc!.issuer} (${SET_SAML_IDP} would replace it)`,
    );
  }
  if (account.trustedUrls.length === 0) shared.push('no Trusted URL (lanyard trusted-urls add)');

  const enhanced = [...shared];
  // SPEC: self-hosted enhanced SSO needs both a Trusted URL and a Default redirect URL.
  if (!account.defaultRedirectUrl) enhanced.push('no Domain redirect URL (lanyard redirect-url set)');
  if (account.ssoMode === 'legacy') enhanced.push('SSO mode is "legacy": enhanced SSO is switched off (lanyard mode set enhanced|both)');

  const legacy = [...shared, ...legacyOnly];
  if (account.ssoMode === 'enhanced') legacy.push('SSO mode is "enhanced": legacy SSO is switched off (lanyard mode set legacy|both)');

  if (account.idpInitiatedLogin && !account.defaultRedirectUrl) {
    warnings.push('IdP-initiated login is on but there is no Default redirect URL to land on');
  }
  return {
    enhanced: { ready: enhanced.length === 0, missing: enhanced },
    legacy: { ready: legacy.length === 0, missing: legacy },
    warnings,
  };
}

/** What a SAML IdP still lacks (its certificates); warns about certificates expired or near expiry. */
function samlIdpMissing(saml: SamlIdpSettings, now: number, warnings: string[]): string[] {
  if (saml.certificates.length === 0) return [`no IdP certificate (${SET_SAML_IDP} --cert)`];
  const certificates = saml.certificates.map((pem) => describeCertificate(pem, now));
  for (const c of certificates) {
    if (c.daysLeft < 0) warnings.push(`IdP certificate ${c.subject} (${c.fingerprint256}) expired on ${c.validTo}`);
    else if (c.daysLeft < CERTIFICATE_WARNING_DAYS) warnings.push(`IdP certificate ${c.subject} expires in ${c.daysLeft} days (${c.validTo})`);
  }
  const valid = certificates.filter((c) => c.daysLeft >= 0 && Date.parse(c.validFrom) <= now);
  return valid.length === 0 ? [`no valid IdP certificate: every certificate has expired or is not yet valid (${SET_SAML_IDP} --cert)`] : [];
}
