import { InvalidParameterError } from '../errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An IdP URL: https, or plain http on this machine only. Metadata carries the certificates we
 * trust and the SSO URL is where users type their passwords: neither may travel in cleartext.
 *
 * @throws InvalidParameterError naming `field` when the URL holds white space, control characters or a
 *   lone surrogate, is not absolute, or is not https.
 */
export function assertIdpUrl(value: string, field: string): void {
  // The URL parser would drop or encode them, but the raw value is what an AuthnRequest's Destination says.
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (/[\u0000-\u0020\u007F-\u009F]|\p{Cs}/u.test(value)) {
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
