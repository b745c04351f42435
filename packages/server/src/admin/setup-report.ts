import { describeCertificate } from '../accounts/certificates.ts';
import type { Account, Connection } from '../accounts/model.ts';

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

/**
 * What an account still lacks for enhanced and for legacy SSO. It mirrors the checks the login
 * services make at sign-in time, so an administrator learns about them before an agent does.
 */
export function setupReport(account: Account, connections: Connection[], now = Date.now()): SetupReport {
  const saml = connections.find((c) => c.saml !== null)?.saml ?? null;
  const shared: string[] = [];
  const warnings: string[] = [];

  if (!saml) {
    shared.push('no IdP connection (lanyard sso set)');
  } else if (saml.certificates.length === 0) {
    shared.push('no IdP certificate (lanyard sso set --cert)');
  } else {
    const certificates = saml.certificates.map((pem) => describeCertificate(pem, now));
    const valid = certificates.filter((c) => c.daysLeft >= 0 && Date.parse(c.validFrom) <= now);
    if (valid.length === 0) shared.push('no valid IdP certificate: every certificate has expired or is not yet valid (lanyard sso set --cert)');
    for (const c of certificates) {
      if (c.daysLeft < 0) warnings.push(`IdP certificate ${c.subject} (${c.fingerprint256}) expired on ${c.validTo}`);
      else if (c.daysLeft < CERTIFICATE_WARNING_DAYS) warnings.push(`IdP certificate ${c.subject} expires in ${c.daysLeft} days (${c.validTo})`);
    }
  }
  if (account.trustedUrls.length === 0) shared.push('no Trusted URL (lanyard trusted-urls add)');

  const enhanced = [...shared];
  // SPEC: self-hosted enhanced SSO needs both a Trusted URL and a Default redirect URL.
  if (!account.defaultRedirectUrl) enhanced.push('no Domain redirect URL (lanyard redirect-url set)');
  if (account.ssoMode === 'legacy') enhanced.push('SSO mode is "legacy": enhanced SSO is switched off (lanyard mode set enhanced|both)');

  const legacy = [...shared];
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
