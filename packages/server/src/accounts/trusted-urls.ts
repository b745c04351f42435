import { InvalidParameterError, UntrustedDomainError } from '../errors.ts';

/** A Trusted URL or Default redirect URL in canonical form. */
export interface TrustedUrl {
  /** Canonical string: lower-case punycode host, default port elided, no trailing slash (but `/`). */
  url: string;
  origin: string;
  /** `/` or a path without a trailing slash. */
  path: string;
  /** The URL as entered, WHATWG-normalised (trailing slash kept): where redirects go. */
  href: string;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_LENGTH = 2048;

/**
 * Problems visible only in the raw string: `new URL()` silently repairs them (backslashes become
 * slashes, dot segments are resolved, tabs dropped), which is how redirect checks get bypassed.
 */
function rawProblem(input: string): string | undefined {
  if (input.length > MAX_LENGTH) return `URLs are limited to ${MAX_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\u0000-\u0020\u007f]/.test(input)) return 'control characters and whitespace are not allowed';
  if (input.includes('\\')) return 'backslashes are not allowed';
  if (input.includes('*')) return 'wildcards are not allowed (list each URL)';
  if (input.includes('#')) return 'fragments are not allowed (remove "#…")';
  if (/%(2f|5c|2e)/i.test(input)) return 'encoded slashes, backslashes and dots ("%2F", "%5C", "%2E") are not allowed';
  const afterScheme = input.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const authority = afterScheme.split(/[/?]/, 1)[0] ?? '';
  if (authority.includes('@')) return 'user information ("user@") is not allowed';
  const path = afterScheme.slice(authority.length).split('?', 1)[0] ?? '';
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return 'dot segments ("/./", "/../") are not allowed';
  if (path.includes('//')) return 'empty path segments ("//") are not allowed';
  return undefined;
}

function canonical(url: URL): TrustedUrl {
  const path = url.pathname === '/' ? '/' : url.pathname.replace(/\/+$/, '');
  return { url: path === '/' ? `${url.origin}/` : `${url.origin}${path}`, origin: url.origin, path, href: url.href };
}

/**
 * Validates a Trusted URL or Default redirect URL against the SPEC's patterns:
 * `https://host[:port][/path]`; `http://` only for loopback hosts; no wildcards, userinfo,
 * fragments or query strings. The error names the rule that was broken.
 */
export function parseTrustedUrl(input: string): TrustedUrl {
  const reject = (rule: string): never => {
    throw new InvalidParameterError(`Trusted URL "${input.slice(0, 200)}" is not allowed: ${rule}.`);
  };
  if (typeof input !== 'string' || input === '') reject('a URL is required');
  const problem = rawProblem(input);
  if (problem) reject(problem);
  if (input.includes('?')) reject('query strings are not allowed (remove "?…")');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return reject('it is not an absolute URL such as https://desktop.example.com/');
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) reject('http:// is only allowed for localhost, 127.0.0.1 and [::1]; use https://');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') reject('only https:// URLs are allowed');
  if (!url.hostname) reject('a host is required');
  return canonical(url);
}

/** The candidate's origin and path if it is safe to compare, else undefined. */
function parseCandidate(candidate: string): { origin: string; path: string } | undefined {
  if (typeof candidate !== 'string' || rawProblem(candidate)) return undefined;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (url.username || url.password || url.hash) return undefined;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return undefined;
  return { origin: url.origin, path: url.pathname };
}

/**
 * A redirect matches when its origin equals a trusted URL's origin and its path is the trusted
 * path or below it on a `/` boundary (`/app` trusts `/app/x`, never `/apple`).
 */
export function matchesTrustedUrl(candidate: string, trusted: TrustedUrl[]): TrustedUrl | undefined {
  const parsed = parseCandidate(candidate);
  if (!parsed) return undefined;
  return trusted.find((t) => {
    if (t.origin !== parsed.origin) return false;
    if (t.path === '/') return true;
    return parsed.path === t.path || parsed.path.startsWith(`${t.path}/`);
  });
}

export function assertTrusted(candidate: string, trusted: TrustedUrl[]): TrustedUrl {
  const match = matchesTrustedUrl(candidate, trusted);
  if (match) return match;
  const shown = String(candidate).slice(0, 300);
  throw new UntrustedDomainError(
    trusted.length === 0
      ? `The account has no Trusted URLs; add the desktop's URL before "${shown}" can be used.`
      : `"${shown}" is not on or below any of the account's Trusted URLs.`,
  );
}

/**
 * The standard OIDC surface: registered redirect URIs match exactly (RFC 9700 §4.1.1), except
 * that a loopback redirect may use any port (RFC 8252 §7.3).
 */
export function exactRedirectMatch(candidate: string, registered: string[]): boolean {
  if (registered.includes(candidate)) return true;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || rawProblem(candidate) || url.username || url.hash) return false;
  return registered.some((r) => {
    try {
      const reg = new URL(r);
      if (reg.protocol !== 'http:' || reg.hostname !== url.hostname) return false;
      reg.port = url.port;
      return reg.toString() === url.toString();
    } catch {
      return false;
    }
  });
}
