import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertTrusted, matchesTrustedUrl, parseTrustedUrl, type TrustedUrl } from '../../packages/server/src/accounts/trusted-urls.ts';
import { UntrustedDomainError } from '../../packages/server/src/errors.ts';

/**
 * Property-based tests of the Trusted URL matcher (SPEC "Trusted URLs"). The oracle is the WHATWG
 * URL parser, i.e. where a browser would actually go: whatever the matcher accepts must land on
 * the trusted origin, on or below the trusted path, with no userinfo or fragment, however the
 * candidate was spelled. The hostile generator glues together the pieces redirect bypasses are
 * made of (separators, encodings, look-alike characters, other hosts).
 */

const RUNS = { numRuns: 1500 };
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

// DNS labels (no `xn--`: random punycode is rarely valid) under a letters-only top-level label,
// since WHATWG reads a numeric last label as an IPv4 address.
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/).filter((l) => l.slice(2, 4) !== '--');
const host = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 2 }), fc.stringMatching(/^[a-z]{2,6}$/))
  .map(([labels, tld]) => [...labels, tld].join('.'));
const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,8}$/);
const path = fc.array(segment, { maxLength: 3 }).map((segments) => segments.map((s) => `/${s}`).join(''));
const port = fc.option(
  fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 443),
  { nil: undefined },
);

/** A Trusted URL an administrator could register: https, a host, maybe a port and a path. */
const trustedInput = fc
  .record({ host, port, path, slash: fc.boolean() })
  .map(({ host, port, path, slash }) => `https://${host}${port ? `:${port}` : ''}${path}${slash ? '/' : ''}`);

/** Where the browser goes for `candidate`, or undefined when it is not a URL at all. */
function browserTarget(candidate: string): URL | undefined {
  try {
    return new URL(candidate);
  } catch {
    return undefined;
  }
}

const below = (pathname: string, trusted: TrustedUrl) => trusted.path === '/' || pathname === trusted.path || pathname.startsWith(`${trusted.path}/`);

/** What a server that decodes the path would see (the encoded-slash / dot-dot bypass). */
function decodedPath(pathname: string): string | undefined {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
}

/** The soundness oracle: a match must send the browser exactly where the administrator allowed. */
function expectSafeMatch(candidate: string, trusted: TrustedUrl): void {
  const target = browserTarget(candidate);
  expect(target, `matched but is not a URL: ${JSON.stringify(candidate)}`).toBeDefined();
  const url = target!;
  const context = JSON.stringify(candidate);
  expect(url.origin, context).toBe(trusted.origin);
  expect(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)), context).toBe(true);
  expect(url.username + url.password, context).toBe('');
  expect(url.hash, context).toBe('');
  expect(candidate.includes('#'), context).toBe(false);
  expect(below(url.pathname, trusted), context).toBe(true);
  const decoded = decodedPath(url.pathname);
  expect(decoded, context).toBeDefined();
  expect(below(decoded!, trusted), context).toBe(true);
  expect(
    decoded!.split('/').some((s) => s === '..' || s === '.'),
    context,
  ).toBe(false);
  expect(decoded!.includes('\\') || decoded!.includes('//'), context).toBe(false);
  // The redirect Lanyard builds (the candidate plus code and state) keeps the same origin.
  const redirect = new URL(candidate);
  redirect.searchParams.set('code', 'c');
  expect(redirect.origin, context).toBe(trusted.origin);
}

/** Pieces that redirect bypasses are made of. */
const TRICKS = [
  '@',
  '\\',
  '/',
  '//',
  '/..',
  '/.',
  '%2f',
  '%2F',
  '%5c',
  '%2e',
  '%2e%2e',
  '..',
  '.',
  '#',
  '?',
  ':',
  ':443',
  ':80',
  ';',
  ',',
  '%00',
  '%40',
  '%23',
  '\t',
  '\n',
  ' ',
  '\u3002',
  '\uff0e',
  '\uff44',
  '\u0430',
  '\u0435',
  '\u200b',
  'evil.example',
  'EVIL.example',
  'https://',
  'http://',
  '//evil.example',
  '@evil.example',
];

describe('Trusted URL matcher properties', () => {
  it('accepts every page on or below a trusted URL, with any query (completeness)', () => {
    fc.assert(
      fc.property(
        trustedInput,
        fc.array(segment, { maxLength: 3 }),
        fc.option(fc.stringMatching(/^[A-Za-z0-9=&_-]{0,20}$/), { nil: undefined }),
        (input, extra, query) => {
          const trusted = parseTrustedUrl(input);
          const base = trusted.path === '/' ? trusted.origin : `${trusted.origin}${trusted.path}`;
          const candidate = `${base}${extra.map((s) => `/${s}`).join('')}${extra.length === 0 && trusted.path === '/' ? '/' : ''}${query !== undefined ? `?${query}` : ''}`;
          expect(matchesTrustedUrl(candidate, [trusted]), candidate).toBe(trusted);
        },
      ),
      RUNS,
    );
  });

  it('compares hosts case-insensitively: an upper-cased host matches the same trusted URL', () => {
    fc.assert(
      fc.property(trustedInput, fc.array(segment, { maxLength: 2 }), (input, extra) => {
        const trusted = parseTrustedUrl(input);
        const url = new URL(trusted.url);
        const candidate = `https://${url.host.toUpperCase()}${trusted.path === '/' ? '' : trusted.path}/${extra.join('/')}`;
        expect(matchesTrustedUrl(candidate, [trusted]), candidate).toBe(trusted);
      }),
      RUNS,
    );
  });

  it('never sends the browser anywhere else, however the candidate is spelled (soundness against WHATWG)', () => {
    fc.assert(
      fc.property(
        trustedInput,
        fc.constantFrom('https://', 'http://', 'HTTPS://', 'https:', 'https:/', '//', 'https:\\\\', ''),
        fc.array(fc.oneof(fc.constantFrom(...TRICKS), segment, label), { minLength: 0, maxLength: 8 }),
        fc.boolean(),
        (input, scheme, parts, withTrustedPrefix) => {
          const trusted = parseTrustedUrl(input);
          const authority = new URL(trusted.url).host;
          const prefix = withTrustedPrefix ? `${authority}${trusted.path === '/' ? '' : trusted.path}` : '';
          const candidate = `${scheme}${prefix}${parts.join('')}`;
          const match = matchesTrustedUrl(candidate, [trusted]);
          if (match) expectSafeMatch(candidate, trusted);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('never matches a host that only starts or ends like the trusted one', () => {
    fc.assert(
      fc.property(host, label, fc.constantFrom('.', '-', ''), (trustedHost, extra, glue) => {
        const trusted = parseTrustedUrl(`https://${trustedHost}`);
        for (const candidate of [
          `https://${trustedHost}${glue}${extra}/`,
          `https://${extra}${glue}${trustedHost}/`,
          `https://${trustedHost}.${extra}.example/`,
        ]) {
          const target = browserTarget(candidate);
          if (!target || target.host === new URL(trusted.url).host) continue;
          expect(matchesTrustedUrl(candidate, [trusted]), candidate).toBeUndefined();
        }
      }),
      RUNS,
    );
  });

  it('never matches a URL with userinfo, a fragment, or over plain http off loopback (fast-check web URLs)', () => {
    fc.assert(
      fc.property(
        fc.webUrl({
          validSchemes: ['https', 'http'],
          withFragments: true,
          withQueryParameters: true,
          authoritySettings: { withUserInfo: true, withPort: true },
        }),
        (candidate) => {
          const url = new URL(candidate);
          const trusted = parseTrustedUrl(`https://${url.hostname.replace(/^\[.*\]$/, 'example.com') || 'example.com'}`);
          const match = matchesTrustedUrl(candidate, [trusted]);
          if (url.username || url.password || candidate.includes('#') || url.protocol === 'http:') expect(match, candidate).toBeUndefined();
          if (match) expectSafeMatch(candidate, trusted);
        },
      ),
      RUNS,
    );
  });

  it('never throws on arbitrary input: matchesTrustedUrl answers, assertTrusted refuses with 70002 only', () => {
    const trusted = [parseTrustedUrl('https://desktop.example.com/app')];
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.webUrl({ withFragments: true, withQueryParameters: true })),
        (candidate) => {
          const match = matchesTrustedUrl(candidate, trusted);
          if (match) {
            expectSafeMatch(candidate, trusted[0]!);
            expect(assertTrusted(candidate, trusted)).toBe(match);
          } else {
            expect(() => assertTrusted(candidate, trusted)).toThrow(UntrustedDomainError);
          }
        },
      ),
      RUNS,
    );
  });

  it('canonicalises idempotently: a stored Trusted URL parses to itself', () => {
    fc.assert(
      fc.property(trustedInput, (input) => {
        const once = parseTrustedUrl(input);
        expect(parseTrustedUrl(once.url)).toEqual({ ...once, href: parseTrustedUrl(once.url).href });
        expect(parseTrustedUrl(once.url).url).toBe(once.url);
        expect(parseTrustedUrl(once.href).url).toBe(once.url);
      }),
      RUNS,
    );
  });

  it('refuses to register anything whose own spelling is a trick (the same rules guard registration)', () => {
    fc.assert(
      fc.property(
        trustedInput,
        fc.constantFrom('\\', '#x', '?q=1', '/../x', '/./x', '/%2e%2e/x', '/%2F', '*', '%00', '\t', '//x'),
        fc.constantFrom('@evil.example', 'user:pass@', '%2e', '\\'),
        (input, pathTrick, hostTrick) => {
          const atEnd = input.replace(/\/?$/, '') + pathTrick;
          expect(() => parseTrustedUrl(atEnd), atEnd).toThrow(/is not allowed/);
          const { host: authority } = new URL(input);
          const inAuthority =
            hostTrick === 'user:pass@' ? input.replace('https://', `https://${hostTrick}`) : input.replace(authority, `${authority}${hostTrick}`);
          expect(() => parseTrustedUrl(inAuthority), inAuthority).toThrow(/is not allowed/);
        },
      ),
      RUNS,
    );
  });
});
