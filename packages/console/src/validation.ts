import { matchesTrustedUrl, parseTrustedUrl } from '../../server/src/accounts/trusted-urls.ts';

/**
 * The server's own Trusted URL rules (accounts/trusted-urls.ts, bundled as is): what the console
 * says while typing is exactly what the server will decide on save.
 */
export type UrlCheck = { ok: true; canonical: string; href: string } | { ok: false; message: string };

export function checkTrustedUrl(input: string): UrlCheck {
  try {
    const parsed = parseTrustedUrl(input.trim());
    return { ok: true, canonical: parsed.url, href: parsed.href };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/** Whether a redirect URL is on or below one of the Trusted URLs (where desktops may be sent). */
export function isBelowTrustedUrl(url: string, trustedUrls: string[]): boolean {
  return (
    matchesTrustedUrl(
      url,
      trustedUrls.map((u) => parseTrustedUrl(u)),
    ) !== undefined
  );
}
