import { InvalidParameterError, UntrustedDomainError } from '../errors.ts';

/**
 * The SPEC's Trusted URL rules: which pages an account lets us send a signed-in desktop back to.
 * Pure (no Node APIs): the console bundles this file so it says exactly what the server decides.
 */

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
const MAX_TRUSTED_LENGTH = 2048;
/** Redirect candidates are real page addresses whose queries may be long; still bounded. */
const MAX_CANDIDATE_LENGTH = 8192;

/** `scheme://authority path ?query`, read from the raw string the way WHATWG will split it. */
const SHAPE = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?]*)([^?]*)(\?.*)?$/;

type Kind = 'trusted' | 'candidate';

/**
 * Problems visible only in the raw string: `new URL()` silently repairs them (backslashes become
 * slashes, dot segments are resolved, tabs and newlines dropped, `https:/a@b` gains its missing
 * slash), which is how redirect checks get bypassed. The first rule broken is named.
 */
function rawProblem(input: string, kind: Kind): string | undefined {
  const max = kind === 'trusted' ? MAX_TRUSTED_LENGTH : MAX_CANDIDATE_LENGTH;
  if (input.length > max) return `URLs are limited to ${max} characters`;
  // Browsers strip tabs/newlines inside URLs and trim spaces, so "https://a.com\t@evil.com" or a
  // C1 control could read differently to us and to the browser.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\u0000-\u001f\u007f-\u009f]|\s/u.test(input)) return 'control characters and whitespace are not allowed';
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(input)?.[1]?.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') return 'only https:// URLs are allowed (http:// only for localhost, 127.0.0.1 and [::1])';
  // WHATWG treats `\` as `/` in http(s) URLs: "https://a.com\@evil.com" goes to evil.com.
  if (input.includes('\\')) return 'backslashes are not allowed';
  if (kind === 'trusted' && input.includes('*')) return 'wildcards ("*") are not allowed (list each URL)';
  if (input.includes('#')) return 'fragments are not allowed (remove "#…")';
  const shape = SHAPE.exec(input);
  // "https:a.com" and "https:/a.com" are repaired by WHATWG; we want what we read to be what it reads.
  if (!shape) return 'it must start with https:// followed by the host';
  const [, , authority = '', path = '', query] = shape;
  if (kind === 'trusted' && query !== undefined) return 'query strings are not allowed (remove "?…")';
  // "https://a.com@evil.com" is evil.com with a user name that looks like our host.
  if (authority.includes('@')) return 'user information ("user@") is not allowed';
  if (authority === '') return 'a host is required';
  // "https://a%2ecom" decodes to a.com: a host must be written out, not encoded.
  if (authority.includes('%')) return 'percent-encoded characters are not allowed in the host';
  // Servers and frameworks that decode the path turn "/app/%2e%2e/admin" or "/app%2fx" into a
  // different path than the one we compared; encoded controls (%00) truncate paths in some.
  if (/%(2f|5c|2e|[01][0-9a-f]|7f)/i.test(path)) {
    return 'encoded slashes, backslashes, dots and control characters ("%2F", "%5C", "%2E", "%00") are not allowed in the path';
  }
  // "/app/../admin" is resolved by WHATWG to "/admin", escaping the trusted path.
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return 'dot segments ("/./", "/../") are not allowed';
  // "//evil.com" in a path is a protocol-relative URL to client-side routers that reuse it.
  if (path.includes('//')) return 'empty path segments ("//") are not allowed';
  return undefined;
}

/** Raw checks, then WHATWG parsing (IDNA to punycode, lower case, default port elided). */
function parseChecked(input: string, kind: Kind): URL | string {
  if (typeof input !== 'string' || input === '') return 'a URL is required';
  const problem = rawProblem(input, kind);
  if (problem) return problem;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'it is not a valid URL (check the host name and port)';
  }
  // Defence in depth: the raw checks should make these impossible.
  if (url.username || url.password) return 'user information ("user@") is not allowed';
  if (url.hash) return 'fragments are not allowed (remove "#…")';
  // Plain http is readable and forgeable on the network; only the agent's own machine is exempt.
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname))
    return 'http:// is only allowed for localhost, 127.0.0.1 and [::1]; use https://';
  return url;
}

/**
 * Validates a Trusted URL or Default redirect URL against the SPEC's patterns:
 * `https://host[:port][/path]`; `http://` only for loopback hosts; no wildcards, userinfo,
 * fragments or query strings. Throws InvalidParameterError naming the rule that was broken.
 */
export function parseTrustedUrl(input: string): TrustedUrl {
  const url = parseChecked(input, 'trusted');
  if (typeof url === 'string') {
    throw new InvalidParameterError(`Trusted URL "${String(input).slice(0, 200)}" is not allowed: ${url}.`);
  }
  // `https://a.com/app/` and `https://a.com/app` are one entry: both trust everything below /app.
  const path = url.pathname === '/' ? '/' : comparablePath(url).replace(/\/+$/, '');
  return { url: path === '/' ? `${url.origin}/` : `${url.origin}${path}`, origin: url.origin, path, href: url.href };
}

/** RFC 3986 §6.2.2.1: `%c3%a9` and `%C3%A9` are the same octets; compare them upper-cased. */
function comparablePath(url: URL): string {
  return url.pathname.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase());
}

function isBelow(path: string, trusted: TrustedUrl): boolean {
  // On a `/` boundary only: `/app` trusts `/app/x`, never `/apple`.
  return trusted.path === '/' || path === trusted.path || path.startsWith(`${trusted.path}/`);
}

/** Why `candidate` matches none of `trusted` (for the error's detail), or the match. */
function findMatch(candidate: string, trusted: TrustedUrl[]): TrustedUrl | string {
  const url = parseChecked(candidate, 'candidate');
  if (typeof url === 'string') return `it is not accepted as a redirect: ${url}`;
  const sameOrigin = trusted.filter((t) => t.origin === url.origin);
  if (sameOrigin.length === 0) return `its origin ${url.origin} is not one of the account's Trusted URLs`;
  const path = comparablePath(url);
  const match = sameOrigin.find((t) => isBelow(path, t));
  if (match) return match;
  const paths = sameOrigin.map((t) => t.path).join(', ');
  return `its path ${path} is not on or below the trusted path(s) ${paths} of ${url.origin}`;
}

/**
 * A redirect matches when its origin equals a trusted URL's origin and its path is the trusted
 * path or below it on a `/` boundary. It may carry a query; anything suspicious never matches.
 */
export function matchesTrustedUrl(candidate: string, trusted: TrustedUrl[]): TrustedUrl | undefined {
  const result = findMatch(candidate, trusted);
  return typeof result === 'string' ? undefined : result;
}

/** The matching Trusted URL, or UntrustedDomainError saying which origin or path was not trusted. */
export function assertTrusted(candidate: string, trusted: TrustedUrl[]): TrustedUrl {
  const shown = String(candidate).slice(0, 300);
  if (trusted.length === 0) {
    throw new UntrustedDomainError(`The account has no Trusted URLs; add the desktop's URL before "${shown}" can be used.`);
  }
  const result = findMatch(candidate, trusted);
  if (typeof result === 'string') throw new UntrustedDomainError(`"${shown}" is not trusted: ${result}.`);
  return result;
}

/** Whitespace, controls (browsers drop or trim them) and backslashes (read as `/`). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const UNSAFE_REDIRECT = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\\]/u;

/** `https://a.com@evil.com/…`: an http(s) authority holding `@` sends the browser to the host after it. */
function hasUserinfo(uri: string): boolean {
  return /^https?:\/\/[^/?#]*@/i.test(uri);
}

/**
 * Whether `href` (a Default redirect URL) lies on or below one of `trusted` (Trusted URLs as
 * stored, canonical). The SPEC's rule "the Default redirect URL is under a Trusted URL": checked
 * when either changes (AccountService) and again wherever a browser is sent there.
 */
export function isCoveredBy(href: string, trusted: readonly string[]): boolean {
  const parsed: TrustedUrl[] = [];
  for (const url of trusted) {
    try {
      parsed.push(parseTrustedUrl(url));
    } catch {
      // A stored value that no longer parses covers nothing.
    }
  }
  return matchesTrustedUrl(href, parsed) !== undefined;
}

/** The URI without the port of a loopback authority, or undefined when it is not loopback. */
function withoutLoopbackPort(uri: string): string | undefined {
  const loopback = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(?=[/?]|$)/.exec(uri);
  if (!loopback || Number(loopback[2] ?? 0) > 65535) return undefined;
  return `http://${loopback[1]}${uri.slice(loopback[0].length)}`;
}

/**
 * The standard OIDC surface: registered redirect URIs match exactly, character for character
 * (RFC 9700 §4.1.1 — any normalisation is a bypass waiting to happen), except that a loopback
 * redirect may use any port (RFC 8252 §7.3: native apps bind an ephemeral port). The host must be
 * the one registered; `localhost` is honoured only when it was registered as such. Candidates with
 * whitespace, control characters, backslashes, a fragment or userinfo never match, even if such a
 * value was stored before the redirect URI validator (redirect-uris.ts) refused it.
 */
export function exactRedirectMatch(candidate: string, registered: string[]): boolean {
  // A value stored before redirect-uris.ts refused them never matches: a browser drops or rewrites
  // these characters, so it would go somewhere other than the address compared here.
  if (typeof candidate !== 'string' || UNSAFE_REDIRECT.test(candidate) || candidate.includes('#') || hasUserinfo(candidate)) return false;
  if (registered.includes(candidate)) return true;
  const portless = withoutLoopbackPort(candidate);
  if (portless === undefined || rawProblem(candidate, 'candidate')) return false;
  return registered.some((uri) => withoutLoopbackPort(uri) === portless);
}
