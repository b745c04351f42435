import { InvalidParameterError } from '../errors.ts';

/**
 * Checks the redirect URIs registered on a connection (the OIDC surface's relying parties):
 * absolute, no fragment (RFC 6749 §3.1.2), https or loopback http. Returns them without repeats.
 *
 * @throws InvalidParameterError naming the first URI that fails.
 */
export function checkedRedirectUris(uris: string[]): string[] {
  for (const uri of uris) {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw new InvalidParameterError(`Redirect URI "${uri}" is not an absolute URL.`);
    }
    if (parsed.hash) throw new InvalidParameterError(`Redirect URI "${uri}" must not contain a fragment (RFC 6749 §3.1.2).`);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
      throw new InvalidParameterError(`Redirect URI "${uri}" must use https (http only for loopback).`);
    }
  }
  return [...new Set(uris)];
}
