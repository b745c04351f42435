/**
 * How the identity provider says it authenticated the user, as the ID token's `acr` and `amr`
 * (OpenID Connect Core §2). Carried from the IdP's answer through the authorization code to the
 * session, so ID tokens from refreshes keep it (like `auth_time`).
 */
export interface AuthenticationContext {
  /** Authentication Context Class Reference: the IdP's own string (SAML class ref URI or upstream `acr`). */
  acr?: string;
  /** Authentication Methods References (RFC 8176 §2 values for SAML; the upstream's own for OIDC). */
  amr?: string[];
}

const SAML_CLASSES = 'urn:oasis:names:tc:SAML:2.0:ac:classes:';

/**
 * SAML authentication context classes (SAML 2.0 Authentication Context, §3.4) and two widely
 * used vendor class refs, mapped to RFC 8176 `amr` values where the meaning is the same. Class
 * refs not listed (unspecified, Kerberos, PreviousSession, InternetProtocol…) give no `amr`.
 * X509/TLSClient say a key was proven but not whether hardware holds it: RFC 8176 `pop`.
 */
const SAML_AMR: ReadonlyMap<string, readonly string[]> = new Map([
  [`${SAML_CLASSES}Password`, ['pwd']],
  [`${SAML_CLASSES}PasswordProtectedTransport`, ['pwd']],
  [`${SAML_CLASSES}SecureRemotePassword`, ['pwd']],
  [`${SAML_CLASSES}Smartcard`, ['sc']],
  [`${SAML_CLASSES}SmartcardPKI`, ['sc', 'hwk']],
  [`${SAML_CLASSES}SoftwarePKI`, ['swk']],
  [`${SAML_CLASSES}X509`, ['pop']],
  [`${SAML_CLASSES}TLSClient`, ['pop']],
  [`${SAML_CLASSES}TimeSyncToken`, ['otp']],
  [`${SAML_CLASSES}MobileTwoFactorContract`, ['mfa']],
  [`${SAML_CLASSES}MobileTwoFactorUnregistered`, ['mfa']],
  // REFEDS MFA profile; Entra ID / AD FS multi-factor and Windows integrated authentication.
  ['https://refeds.org/profile/mfa', ['mfa']],
  ['http://schemas.microsoft.com/claims/multipleauthn', ['mfa']],
  ['urn:federation:authentication:windows', ['wia']],
]);

/** The longest `acr` kept: a class ref is a URI, not a document. */
const MAX_ACR_LENGTH = 512;
/** RFC 8176 values are short tokens; an upstream sending more than this is not describing methods. */
const MAX_AMR_VALUES = 16;
const AMR_VALUE = /^[\x21-\x7e]{1,64}$/;

/**
 * From a SAML AuthnStatement's AuthnContextClassRef: `acr` is the class ref as sent, `amr` the
 * RFC 8176 values when the class has a clear equivalent. Nothing when the IdP sent none.
 */
export function fromSamlClassRef(classRef: string | undefined): AuthenticationContext {
  const acr = classRef?.trim();
  if (!acr || acr.length > MAX_ACR_LENGTH) return {};
  const amr = SAML_AMR.get(acr);
  return { acr, ...(amr ? { amr: [...amr] } : {}) };
}

/**
 * From an upstream OpenID Connect ID token: `acr` and `amr` passed through when well formed
 * (`acr` a string, `amr` an array of short printable strings); anything else is dropped.
 */
export function fromOidcClaims(claims: { acr?: unknown; amr?: unknown }): AuthenticationContext {
  const acr = typeof claims.acr === 'string' && claims.acr.length > 0 && claims.acr.length <= MAX_ACR_LENGTH ? claims.acr : undefined;
  const amr =
    Array.isArray(claims.amr) &&
    claims.amr.length > 0 &&
    claims.amr.length <= MAX_AMR_VALUES &&
    claims.amr.every((v) => typeof v === 'string' && AMR_VALUE.test(v))
      ? (claims.amr as string[])
      : undefined;
  return { ...(acr ? { acr } : {}), ...(amr ? { amr: [...amr] } : {}) };
}

/** The ID token claims for a stored context (older sessions stored none: no claims). */
export function authenticationClaims(context: AuthenticationContext): { acr?: string; amr?: string[] } {
  return { ...(context.acr ? { acr: context.acr } : {}), ...(context.amr?.length ? { amr: context.amr } : {}) };
}
