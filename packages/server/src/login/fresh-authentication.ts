import { InvalidParameterError, LanyardError } from '../errors.ts';

/**
 * The IdP's authentication is older than the client allowed (OIDC Core §3.1.2.1 `max_age`,
 * `prompt=login`), or its time cannot be trusted. OAuth `login_required`: the client may retry.
 */
export class StaleAuthenticationError extends LanyardError {
  constructor(detail: string) {
    super({ code: 45011, status: 401, message: `The sign-in is not fresh enough: ${detail}`, oauthError: 'login_required' });
  }
}

/** What the client asked for about the age of the user's authentication. */
export interface Freshness {
  /** `prompt=login`: SAML `ForceAuthn`, OIDC upstream `prompt=login`. */
  promptLogin: boolean;
  /** `max_age`: SAML has none, so `ForceAuthn` too; OIDC upstream `max_age`. */
  maxAgeSeconds: number | null;
  /** When the sign-in started: a forced authentication must be after it. */
  requestedAt: number;
}

/** Reads `prompt` and `max_age` of an authorization request (OIDC Core §3.1.2.1). */
export function parseFreshness(prompt: string | undefined, maxAge: string | undefined, now = Date.now()): Freshness {
  let maxAgeSeconds: number | null = null;
  if (maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(maxAge)) throw new InvalidParameterError('max_age must be a whole number of seconds (OIDC Core §3.1.2.1).');
    maxAgeSeconds = Number(maxAge);
  }
  const login = (prompt ?? '').split(' ').includes('login');
  return { promptLogin: login, maxAgeSeconds, requestedAt: now };
}

/** SAML core §3.4.1 ForceAuthn: asked by `prompt=login`, and by `max_age` (SAML cannot say how old). */
export function wantsForceAuthn(freshness: Freshness | null): boolean {
  return freshness !== null && (freshness.promptLogin || freshness.maxAgeSeconds !== null);
}

/**
 * The `auth_time` to record: when the IdP says it authenticated the user (SAML AuthnInstant,
 * OIDC `auth_time`), checked against what the client asked for. Without a report and without
 * a request, the time Lanyard received the answer (what an IdP that says nothing implies).
 */
export function authTimeOf(reported: number | undefined, freshness: Freshness | null, skewMs: number, now = Date.now()): number {
  const asked = wantsForceAuthn(freshness);
  if (reported === undefined || Number.isNaN(reported)) {
    if (asked) {
      throw new StaleAuthenticationError(
        'the identity provider did not say when the user authenticated (no SAML AuthnInstant / OIDC auth_time), so prompt=login or max_age cannot be honoured',
      );
    }
    return now;
  }
  if (reported > now + skewMs)
    throw new StaleAuthenticationError(`the identity provider's authentication time ${iso(reported)} is in the future; check the clocks`);
  if (!freshness) return reported;
  if (freshness.maxAgeSeconds !== null && now - reported > freshness.maxAgeSeconds * 1000 + skewMs) {
    throw new StaleAuthenticationError(
      `the user authenticated at the identity provider at ${iso(reported)}, longer ago than max_age=${freshness.maxAgeSeconds} s allows. Lanyard asked the IdP to re-authenticate (ForceAuthn / prompt=login); configure the IdP to honour it`,
    );
  }
  if (freshness.promptLogin && reported < freshness.requestedAt - skewMs) {
    throw new StaleAuthenticationError(
      `prompt=login asked for a new authentication, but the identity provider reused one from ${iso(reported)}; configure the IdP to honour ForceAuthn (SAML) or prompt=login (OpenID Connect)`,
    );
  }
  return reported;
}

const iso = (ms: number) => new Date(ms).toISOString();
