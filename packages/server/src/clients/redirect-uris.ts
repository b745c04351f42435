import { InvalidParameterError } from '../errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** RFC 8252 §7.1: a private-use scheme is a reverse domain name with at least one dot. */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/;
const MAX_URIS = 20;
const MAX_LENGTH = 2048;

/**
 * Validates redirect URIs for registration (RFC 6749 §3.1.2, RFC 9700 §4.1, RFC 8252 §7):
 * absolute, no fragment, https (http only for loopback), or — for public (native) clients only —
 * a private-use scheme such as `com.example.app:/oauth2redirect`. Returns them de-duplicated.
 * Throws InvalidParameterError naming the URI and the rule it breaks.
 */
export function validateRedirectUris(uris: readonly string[], options: { allowPrivateUse: boolean }): string[] {
  if (uris.length > MAX_URIS) throw new InvalidParameterError(`A client may register at most ${MAX_URIS} redirect URIs.`);
  for (const uri of uris) {
    const shown = `Redirect URI "${String(uri).slice(0, 200)}"`;
    if (typeof uri !== 'string' || uri.length === 0 || uri.length > MAX_LENGTH)
      throw new InvalidParameterError(`${shown} must be 1 to ${MAX_LENGTH} characters.`);
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
    if (/[\u0000-\u0020\u007f-\u009f\\]/u.test(uri))
      throw new InvalidParameterError(`${shown} must not contain spaces, control characters or backslashes.`);
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw new InvalidParameterError(`${shown} is not an absolute URL.`);
    }
    if (uri.includes('#')) throw new InvalidParameterError(`${shown} must not contain a fragment (RFC 6749 §3.1.2).`);
    if (parsed.protocol === 'https:') continue;
    if (parsed.protocol === 'http:') {
      if (LOOPBACK_HOSTS.has(parsed.hostname)) continue;
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
    if (uri.startsWith(`${scheme}://`))
      throw new InvalidParameterError(`${shown} must have a single "/" after the scheme (RFC 8252 §7.1), e.g. ${scheme}:/callback.`);
  }
  return [...new Set(uris)];
}
