import { InvalidParameterError } from '../errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** RFC 8252 §7.1: a private-use scheme is a reverse domain name with at least one dot. */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/;
const MAX_URIS = 20;
const MAX_LENGTH = 2048;
/**
 * Characters a browser drops or rewrites before it navigates (C0/C1 controls, whitespace) or
 * reads as `/` (backslash): a URI holding one is stored and compared as one address but followed
 * as another.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\\]/u;

/**
 * The one validator for every stored redirect URI: registered clients (client-registry.ts) and a
 * connection's built-in client (AccountService.setRedirectUris), whichever surface (admin API,
 * CLI, console) writes them. Rules (RFC 6749 §3.1.2, RFC 9700 §2.1/§4.1, RFC 8252 §7):
 * - at most 20 URIs of 1 to 2048 characters, absolute;
 * - no fragment, no whitespace, control characters or backslashes;
 * - no userinfo (`@` in the authority: `https://rp.example.com@evil.example/cb` is evil.example);
 * - no wildcards (`*`): redirect URIs match exactly;
 * - https, or http for localhost, 127.0.0.1 and [::1] only;
 * - for public clients only (`allowPrivateUse`), a private-use scheme in reverse domain name form
 *   with one `/` after it, such as `com.example.app:/oauth2redirect` (RFC 8252 §7.1).
 *
 * @returns the URIs de-duplicated, in order.
 * @throws InvalidParameterError naming the first URI that fails and the rule it breaks.
 */
export function validateRedirectUris(uris: readonly string[], options: { allowPrivateUse: boolean }): string[] {
  if (uris.length > MAX_URIS) throw new InvalidParameterError(`A client may register at most ${MAX_URIS} redirect URIs.`);
  for (const uri of uris) {
    const shown = `Redirect URI "${JSON.stringify(String(uri).slice(0, 200)).slice(1, -1)}"`;
    if (typeof uri !== 'string' || uri.length === 0 || uri.length > MAX_LENGTH)
      throw new InvalidParameterError(`${shown} must be 1 to ${MAX_LENGTH} characters.`);
    if (UNSAFE_CHARACTERS.test(uri))
      throw new InvalidParameterError(`${shown} must not contain spaces, tabs, newlines, control characters or backslashes.`);
    if (uri.includes('#')) throw new InvalidParameterError(`${shown} must not contain a fragment ("#", RFC 6749 §3.1.2).`);
    if (uri.includes('*'))
      throw new InvalidParameterError(`${shown} must not contain wildcards ("*"): redirect URIs match exactly (RFC 9700 §2.1); list each one.`);
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw new InvalidParameterError(`${shown} is not an absolute URL.`);
    }
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') {
      // Read from the raw string as WHATWG splits it: `//authority` up to the first `/` or `?`.
      const authority = /^https?:\/\/([^/?]*)/i.exec(uri)?.[1];
      if (authority === undefined) throw new InvalidParameterError(`${shown} must start with ${parsed.protocol}// followed by the host.`);
      if (authority.includes('@') || parsed.username || parsed.password)
        throw new InvalidParameterError(
          `${shown} must not contain user information ("user@" before the host): the browser would go to the host after the "@".`,
        );
      if (parsed.protocol === 'https:' || LOOPBACK_HOSTS.has(parsed.hostname)) continue;
      throw new InvalidParameterError(`${shown} must use https (http only for localhost, 127.0.0.1 and [::1]).`);
    }
    const scheme = parsed.protocol.slice(0, -1);
    if (!PRIVATE_USE_SCHEME.test(scheme)) {
      throw new InvalidParameterError(
        `${shown} must use https, loopback http, or a private-use scheme in reverse domain name form such as com.example.app (RFC 8252 §7.1).`,
      );
    }
    if (!options.allowPrivateUse) {
      throw new InvalidParameterError(
        `${shown}: private-use schemes are for native apps, which are public clients (token_endpoint_auth_method none).`,
      );
    }
    // RFC 8252 §7.1: one slash after the scheme, never an authority that looks like a host.
    if (uri.toLowerCase().startsWith(`${scheme}://`))
      throw new InvalidParameterError(`${shown} must have a single "/" after the scheme (RFC 8252 §7.1), e.g. ${scheme}:/callback.`);
  }
  return [...new Set(uris)];
}

/**
 * The web origin of a stored redirect URI, for CORS: only https and http URIs have one. A
 * private-use scheme's origin is the opaque `null`, which must never be allowed.
 */
export function webOrigin(uri: string): string | undefined {
  if (!/^https?:\/\//i.test(uri)) return undefined;
  try {
    const origin = new URL(uri).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}
