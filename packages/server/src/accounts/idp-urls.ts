import { InvalidParameterError } from '../errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether `value` holds white space (any Unicode space), a control character (C0, DEL, C1),
 * U+FFFE or U+FFFF, or a lone surrogate: never in a URL as an IdP publishes it. The URL parser
 * drops or encodes them, but an AuthnRequest's Destination carries the raw value, which is then
 * not the URL the IdP compares it with, or not well-formed XML.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
export const hasUnsafeUrlCharacters = (value: string): boolean => /[\u0000-\u0020\u007F-\u009F\uFFFE\uFFFF]|\s|\p{Cs}/u.test(value);

/**
 * An IdP URL: https, or plain http on this machine only. Metadata carries the certificates we
 * trust and the SSO URL is where users type their passwords: neither may travel in cleartext.
 *
 * @throws InvalidParameterError naming `field` when the URL holds white space, control characters or a
 *   lone surrogate, is not absolute, or is not https.
 */
export function assertIdpUrl(value: string, field: string): void {
  if (hasUnsafeUrlCharacters(value)) {
    throw new InvalidParameterError(`${field} contains white space or control characters (got ${JSON.stringify(value.slice(0, 200))}).`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidParameterError(`${field} must be an absolute URL (got "${value.slice(0, 200)}").`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  if (url.protocol === 'http:') {
    throw new InvalidParameterError(
      `${field} must use https: plain http is accepted only on this machine (localhost, 127.0.0.1, [::1]); got ${url.origin}.`,
    );
  }
  throw new InvalidParameterError(`${field} must be an https URL.`);
}
