import type { OidcIdpSettings } from '../accounts/model.ts';

/**
 * The standard scopes that release standard claims (OpenID Connect Core §5.4). `openid` itself
 * releases only `sub`; roles and groups have no standard scope (each provider names its own).
 */
export const STANDARD_SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  profile: [
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/** Scopes every provider understands the same way; anything else is the provider's own. */
const STANDARD_SCOPES = new Set(['openid', 'offline_access', ...Object.keys(STANDARD_SCOPE_CLAIMS)]);

/** The space-separated scope string as a list (RFC 6749 §3.3). */
export function scopeList(scopes: string): string[] {
  return scopes.split(/\s+/).filter(Boolean);
}

/** The standard scope that releases `claim` (§5.4), or undefined for a claim no standard scope releases. */
export function standardScopeOf(claim: string): string | undefined {
  return Object.keys(STANDARD_SCOPE_CLAIMS).find((scope) => STANDARD_SCOPE_CLAIMS[scope]!.includes(claim));
}

/**
 * Why an OpenID Connect provider may have left out a claim the mapping needs, when the
 * connection's scopes are the cause, with the fix; null when the scopes are not to blame.
 * `lookedFor` are the claim names the mapping tries. A standard claim missing its standard scope
 * (§5.4: `email` → email, `profile` → name…) is named with that scope; claims no standard scope
 * releases (roles, groups) are named when only standard scopes are requested.
 */
export function missingScopeCause(
  settings: Pick<OidcIdpSettings, 'scopes'> & Partial<Pick<OidcIdpSettings, 'issuer' | 'clientId'>>,
  lookedFor: readonly string[],
  accountSid?: string,
): string | null {
  const requested = scopeList(settings.scopes);
  const needed = [...new Set(lookedFor.map(standardScopeOf).filter((s): s is string => s !== undefined))];
  const missing = needed.filter((scope) => !requested.includes(scope));
  const fix = (scopes: string[]) => `${setOidcCommand(settings, accountSid)} --scopes "${scopes.join(' ')}"`;
  if (missing.length > 0) {
    const claims = lookedFor.filter((claim) => missing.includes(standardScopeOf(claim) ?? ''));
    return (
      `The connection requests the scopes "${requested.join(' ')}", without ${missing.map((s) => `"${s}"`).join(' and ')}: ` +
      `the provider releases ${claims.map((c) => `"${c}"`).join(', ')} only with ${missing.length > 1 ? 'those scopes' : 'that scope'} (OpenID Connect Core §5.4). ` +
      `Request ${missing.length > 1 ? 'them' : 'it'}: ${fix([...requested, ...missing])}.`
    );
  }
  if (needed.length === 0 && requested.every((scope) => STANDARD_SCOPES.has(scope))) {
    return (
      `The connection requests only standard scopes ("${requested.join(' ')}"), and no standard scope releases ${lookedFor.map((c) => `"${c}"`).join(', ')}: ` +
      `request a scope your provider defines, e.g. roles or groups: ${fix([...requested, 'roles'])} (with your provider's scope name).`
    );
  }
  return null;
}

/**
 * The start of the `lanyard sso set-oidc` command that changes this connection, with the values
 * Lanyard knows filled in (placeholders for what it does not), so that an admin can run it as is.
 */
export function setOidcCommand(settings: Partial<Pick<OidcIdpSettings, 'issuer' | 'clientId'>>, accountSid?: string): string {
  const quoted = (value: string) => (/^[\w.:/@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`);
  return `lanyard sso set-oidc ${accountSid ?? '<AccountSid>'} --issuer ${settings.issuer ? quoted(settings.issuer) : '<issuer>'} --client-id ${settings.clientId ? quoted(settings.clientId) : '<client id>'}`;
}
