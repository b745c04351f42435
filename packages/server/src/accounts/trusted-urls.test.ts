import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidParameterError, UntrustedDomainError } from '../errors.ts';
import { assertTrusted, exactRedirectMatch, isCoveredBy, matchesTrustedUrl, parseTrustedUrl, type TrustedUrl } from './trusted-urls.ts';

const CYRILLIC_A = '\u0430'; // looks exactly like the Latin "a"

function ruleBroken(input: string): string {
  try {
    parseTrustedUrl(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParameterError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('parseTrustedUrl: canonical form', () => {
  it.each([
    ['https://desktop.example.com', 'https://desktop.example.com/', 'https://desktop.example.com', '/'],
    ['https://desktop.example.com/', 'https://desktop.example.com/', 'https://desktop.example.com', '/'],
    ['https://Desktop.Example.COM:443/agent/', 'https://desktop.example.com/agent', 'https://desktop.example.com', '/agent'],
    ['HTTPS://A.COM/App', 'https://a.com/App', 'https://a.com', '/App'],
    ['https://a.com:8443/x/y/', 'https://a.com:8443/x/y', 'https://a.com:8443', '/x/y'],
    ['https://a.com/app.v2/.well-known/...', 'https://a.com/app.v2/.well-known/...', 'https://a.com', '/app.v2/.well-known/...'],
    ['https://localhost/', 'https://localhost/', 'https://localhost', '/'],
    ['http://localhost:5173', 'http://localhost:5173/', 'http://localhost:5173', '/'],
    ['http://LOCALHOST:5173/dev/', 'http://localhost:5173/dev', 'http://localhost:5173', '/dev'],
    ['http://127.0.0.1:3000/app', 'http://127.0.0.1:3000/app', 'http://127.0.0.1:3000', '/app'],
    ['http://[::1]:8080/', 'http://[::1]:8080/', 'http://[::1]:8080', '/'],
    ['http://localhost:80/', 'http://localhost/', 'http://localhost', '/'],
    ['https://bücher.example/shop', 'https://xn--bcher-kva.example/shop', 'https://xn--bcher-kva.example', '/shop'],
    ['https://BÜCHER.example/', 'https://xn--bcher-kva.example/', 'https://xn--bcher-kva.example', '/'],
    ['https://пример.рф', 'https://xn--e1afmkfd.xn--p1ai/', 'https://xn--e1afmkfd.xn--p1ai', '/'],
    ['https://a.com/café', 'https://a.com/caf%C3%A9', 'https://a.com', '/caf%C3%A9'],
    ['https://a.com/caf%c3%a9', 'https://a.com/caf%C3%A9', 'https://a.com', '/caf%C3%A9'],
    ['https://a.com/a%20b', 'https://a.com/a%20b', 'https://a.com', '/a%20b'],
  ])('%s → %s', (input, url, origin, path) => {
    expect(parseTrustedUrl(input)).toMatchObject({ url, origin, path });
  });

  it('makes https://a.com/ and https://a.com one entry, and /app/ and /app', () => {
    expect(parseTrustedUrl('https://a.com/').url).toBe(parseTrustedUrl('https://a.com').url);
    expect(parseTrustedUrl('https://a.com/app/').url).toBe(parseTrustedUrl('https://a.com/app').url);
  });

  it('keeps the entered form (trailing slash) in href, for the Default redirect URL', () => {
    expect(parseTrustedUrl('https://A.com/desktop/')).toEqual({
      url: 'https://a.com/desktop',
      origin: 'https://a.com',
      path: '/desktop',
      href: 'https://a.com/desktop/',
    });
  });
});

describe('parseTrustedUrl: every rule, accepted and rejected, with the rule named', () => {
  const rules: Array<{ rule: string; message: RegExp; rejected: string[]; accepted: string[] }> = [
    { rule: 'a URL is required', message: /a URL is required/, rejected: [''], accepted: ['https://a.com'] },
    {
      rule: 'max length 2048',
      message: /URLs are limited to 2048 characters/,
      rejected: [`https://a.com/${'x'.repeat(2035)}`],
      accepted: [`https://a.com/${'x'.repeat(2034)}`],
    },
    {
      rule: 'no control characters or whitespace',
      message: /control characters and whitespace are not allowed/,
      rejected: [
        ' https://a.com',
        'https://a.com ',
        'https://a.com/\tapp',
        'https://a.com\n.evil.com',
        'https://a.com\r\n',
        'https://a.com/\u0000',
        'https://a.com/\u007f',
        'https://a.com/\u0085',
        'https://a.com/a\u00a0b',
        'https://a.com/\u2028',
        'https://a.com/\ufeff',
        'https://a.com/a b',
      ],
      accepted: ['https://a.com/a%20b'],
    },
    {
      rule: 'https only',
      message: /only https:\/\/ URLs are allowed/,
      rejected: ['ftp://a.com', 'wss://a.com', 'javascript:alert(1)', 'data:text/html,<script>', 'a.com', '//a.com', '/app', 'file:///etc/passwd'],
      accepted: ['https://a.com', 'HTTPS://a.com'],
    },
    {
      rule: 'http only on loopback',
      message: /http:\/\/ is only allowed for localhost, 127\.0\.0\.1 and \[::1\]; use https:\/\//,
      rejected: ['http://a.com', 'http://localhost.evil.com', 'http://127.0.0.1.nip.io', 'http://10.0.0.1', 'http://[::2]', 'http://localhost./'],
      accepted: ['http://localhost', 'http://127.0.0.1:8080', 'http://[::1]'],
    },
    {
      rule: 'no wildcards',
      message: /wildcards \("\*"\) are not allowed/,
      rejected: ['https://*.a.com', 'https://a.com/*', 'https://a.*', 'https://*'],
      accepted: ['https://app.a.com'],
    },
    {
      rule: 'no backslashes',
      message: /backslashes are not allowed/,
      rejected: ['https://a.com\\@evil.com', 'https://a.com\\\\evil.com', 'https://a.com/app\\..\\admin', 'https:\\\\a.com'],
      accepted: ['https://a.com/app/admin'],
    },
    {
      rule: 'no fragments',
      message: /fragments are not allowed \(remove "#…"\)/,
      rejected: ['https://a.com/#', 'https://a.com/app#x', 'https://a.com#@evil.com'],
      accepted: ['https://a.com/app'],
    },
    {
      rule: 'the raw string is scheme://host',
      message: /it must start with https:\/\/ followed by the host/,
      rejected: ['https:a.com', 'https:/a.com', 'https:/a.com@evil.com', 'http:localhost'],
      accepted: ['https://a.com'],
    },
    {
      rule: 'no query strings',
      message: /query strings are not allowed \(remove "\?…"\)/,
      rejected: ['https://a.com/?', 'https://a.com/app?tab=1', 'https://a.com?x'],
      accepted: ['https://a.com/app'],
    },
    {
      rule: 'no userinfo',
      message: /user information \("user@"\) is not allowed/,
      rejected: ['https://user@a.com', 'https://user:pw@a.com/', 'https://a.com@evil.com', 'https://a.com:443@evil.com/app', 'https://@a.com'],
      accepted: ['https://a.com/@team'],
    },
    {
      rule: 'a host is required',
      message: /a host is required/,
      rejected: ['https://', 'https:///a.com', 'https:///'],
      accepted: ['https://a.com/'],
    },
    {
      rule: 'no percent-encoded host',
      message: /percent-encoded characters are not allowed in the host/,
      rejected: ['https://a%2ecom', 'https://%61.com', 'https://a.com%2f.evil.com'],
      accepted: ['https://a.com/%61'],
    },
    {
      rule: 'no encoded slashes, backslashes, dots or controls in the path',
      message: /encoded slashes, backslashes, dots and control characters .* are not allowed in the path/,
      rejected: [
        'https://a.com/app%2fadmin',
        'https://a.com/app%2F..%2Fadmin',
        'https://a.com/app/%2e%2e/admin',
        'https://a.com/app/%2E%2E/',
        'https://a.com/.%2e/',
        'https://a.com/a%5cb',
        'https://a.com/a%00',
        'https://a.com/a%0A',
        'https://a.com/a%7F',
      ],
      accepted: ['https://a.com/caf%C3%A9', 'https://a.com/a%20b', 'https://a.com/v1.2'],
    },
    {
      rule: 'no dot segments',
      message: /dot segments \("\/\.\/", "\/\.\.\/"\) are not allowed/,
      rejected: ['https://a.com/app/../admin', 'https://a.com/./app', 'https://a.com/app/..', 'https://a.com/app/.', 'https://a.com/..'],
      accepted: ['https://a.com/app/.well-known', 'https://a.com/app/...', 'https://a.com/..app'],
    },
    {
      rule: 'no empty path segments',
      message: /empty path segments \("\/\/"\) are not allowed/,
      rejected: ['https://a.com//evil.com', 'https://a.com/app//x', 'https://a.com/app//'],
      accepted: ['https://a.com/app/x/'],
    },
    {
      rule: 'must parse',
      message: /it is not a valid URL \(check the host name and port\)/,
      rejected: ['https://a.com:99999', 'https://exa<mple.com', 'https://[::1', 'https://a.com:port'],
      accepted: ['https://a.com:65535'],
    },
  ];

  describe.each(rules)('$rule', ({ message, rejected, accepted }) => {
    it.each(rejected)('rejects %j', (input) => {
      expect(ruleBroken(input)).toMatch(message);
    });
    it.each(accepted)('accepts %j', (input) => {
      expect(() => parseTrustedUrl(input)).not.toThrow();
    });
  });

  it('quotes the input and names the rule, as the SPEC asks', () => {
    expect(ruleBroken('https://a.com/app?tab=1')).toBe(
      'Trusted URL "https://a.com/app?tab=1" is not allowed: query strings are not allowed (remove "?…").',
    );
    const error = (() => {
      try {
        parseTrustedUrl('http://a.com');
      } catch (caught) {
        return caught as InvalidParameterError;
      }
    })();
    expect(error).toMatchObject({ code: 20001, status: 400 });
  });

  it('keeps the message short for very long input', () => {
    expect(ruleBroken(`https://a.com/${'x'.repeat(5000)}`).length).toBeLessThan(300);
  });
});

describe('matchesTrustedUrl', () => {
  const trusted = ['https://a.com/app', 'https://desktop.example.com', 'http://localhost:5173'].map((u) => parseTrustedUrl(u));
  const [app, desktop, local] = trusted as [TrustedUrl, TrustedUrl, TrustedUrl];

  it.each([
    ['https://a.com/app', app],
    ['https://a.com/app/', app],
    ['https://a.com/app/x', app],
    ['https://a.com/app/x/y.html?tab=1&next=%2F..%2Fadmin', app],
    ['https://a.com/app?x=a@b', app],
    ['https://A.COM/app/x', app],
    ['https://a.com:443/app/x', app],
    ['https://a.com:/app', app],
    ['https://desktop.example.com', desktop],
    ['https://desktop.example.com/any/page?x=1', desktop],
    ['http://localhost:5173/callback', local],
    ['http://LocalHost:5173/', local],
    [`https://a.com/app?q=${'x'.repeat(3000)}`, app],
  ])('%s matches', (candidate, expected) => {
    expect(matchesTrustedUrl(candidate, trusted)).toBe(expected);
  });

  it.each([
    ['other host', 'https://b.com/app'],
    ['suffix domain', 'https://a.com.evil.com/app'],
    ['prefix domain', 'https://evila.com/app'],
    ['subdomain', 'https://x.a.com/app'],
    ['trailing-dot host', 'https://a.com./app'],
    ['userinfo lookalike', 'https://a.com@evil.com/app'],
    ['userinfo with port', 'https://a.com:443@evil.com/app'],
    ['userinfo on the trusted host', 'https://user:pw@a.com/app'],
    ['backslash userinfo', 'https://a.com\\@evil.com/app'],
    ['double backslash', 'https://a.com\\\\evil.com'],
    ['backslash dot segments', 'https://a.com/app\\..\\admin'],
    ['encoded slash', 'https://a.com/app%2F..%2Fadmin'],
    ['encoded slash, lower case', 'https://a.com/app%2fx'],
    ['dot segments', 'https://a.com/app/../admin'],
    ['single dot segment', 'https://a.com/app/./x'],
    ['encoded dot segments', 'https://a.com/app/%2e%2e/'],
    ['encoded dot segments, upper case', 'https://a.com/app/%2E%2E/admin'],
    ['encoded backslash', 'https://a.com/app/%5c..%5cadmin'],
    ['prefix path /apple', 'https://a.com/apple'],
    ['prefix path /app-admin', 'https://a.com/app-admin/x'],
    ['shorter path', 'https://a.com/ap'],
    ['mixed-case path', 'https://a.com/App/x'],
    ['upper-case path', 'https://a.com/APP'],
    ['http downgrade', 'http://a.com/app'],
    ['http downgrade of a whole-origin entry', 'http://desktop.example.com/'],
    ['fragment', 'https://a.com/app#x'],
    ['fragment route', 'https://a.com/app/#/route'],
    ['empty fragment', 'https://a.com/app#'],
    ['other port', 'https://a.com:8443/app'],
    ['other loopback port', 'http://localhost:3000/'],
    ['loopback default port', 'http://localhost/'],
    ['loopback by address, trusted by name', 'http://127.0.0.1:5173/'],
    ['https on an http-trusted loopback', 'https://localhost:5173/'],
    ['Cyrillic look-alike host', `https://${CYRILLIC_A}.com/app`],
    ['javascript URL', 'javascript:alert(1)//https://a.com/app'],
    ['other scheme', 'ftp://a.com/app'],
    ['protocol-relative', '//a.com/app'],
    ['relative', '/app'],
    ['missing slashes (repaired by WHATWG)', 'https:a.com/app'],
    ['one slash (repaired by WHATWG)', 'https:/a.com/app'],
    ['three slashes (repaired by WHATWG)', 'https:///a.com/app'],
    ['tab (stripped by WHATWG)', 'https://a.com/ap\tp'],
    ['newline in host', 'https://a.com\n.evil.com/app'],
    ['leading space', ' https://a.com/app'],
    ['percent-encoded host', 'https://a%2ecom/app'],
    ['empty path segment', 'https://a.com/app//evil.com'],
    ['empty string', ''],
    ['too long', `https://a.com/app?q=${'x'.repeat(9000)}`],
  ])('%s: %j does not match', (_attack, candidate) => {
    expect(matchesTrustedUrl(candidate, trusted)).toBeUndefined();
  });

  it('never throws, even for values that are not strings', () => {
    expect(matchesTrustedUrl(undefined as unknown as string, trusted)).toBeUndefined();
    expect(matchesTrustedUrl('not a url at all', trusted)).toBeUndefined();
    expect(matchesTrustedUrl('https://a.com/app', [])).toBeUndefined();
  });

  it('matches an IDN Trusted URL by its Unicode and its punycode form, and nothing like it', () => {
    const idn = [parseTrustedUrl('https://bücher.example/shop')];
    expect(matchesTrustedUrl('https://xn--bcher-kva.example/shop/cart', idn)).toBe(idn[0]);
    expect(matchesTrustedUrl('https://bücher.example/shop', idn)).toBe(idn[0]);
    expect(matchesTrustedUrl('https://BÜCHER.EXAMPLE/shop', idn)).toBe(idn[0]);
    expect(matchesTrustedUrl('https://bucher.example/shop', idn)).toBeUndefined();
    const punycode = [parseTrustedUrl('https://xn--e1afmkfd.xn--p1ai/')];
    expect(matchesTrustedUrl('https://пример.рф/desk', punycode)).toBe(punycode[0]);
  });

  it('does not let a Cyrillic look-alike match the ASCII host, nor the other way round', () => {
    const ascii = [parseTrustedUrl('https://apple.com')];
    const lookalike = [parseTrustedUrl(`https://${CYRILLIC_A}pple.com`)];
    expect(lookalike[0]?.origin).toBe('https://xn--pple-43d.com');
    expect(matchesTrustedUrl(`https://${CYRILLIC_A}pple.com/`, ascii)).toBeUndefined();
    expect(matchesTrustedUrl('https://apple.com/', lookalike)).toBeUndefined();
  });

  it('compares percent-escapes case-insensitively and Unicode paths in their encoded form', () => {
    const cafe = [parseTrustedUrl('https://a.com/café')];
    expect(matchesTrustedUrl('https://a.com/caf%C3%A9/menu', cafe)).toBe(cafe[0]);
    expect(matchesTrustedUrl('https://a.com/caf%c3%a9', cafe)).toBe(cafe[0]);
    expect(matchesTrustedUrl('https://a.com/café/', cafe)).toBe(cafe[0]);
    expect(matchesTrustedUrl('https://a.com/cafe', cafe)).toBeUndefined();
  });

  it('treats a trailing slash on the Trusted URL as the same entry', () => {
    const withSlash = [parseTrustedUrl('https://a.com/app/')];
    expect(matchesTrustedUrl('https://a.com/app', withSlash)).toBe(withSlash[0]);
    expect(matchesTrustedUrl('https://a.com/app/x', withSlash)).toBe(withSlash[0]);
    expect(matchesTrustedUrl('https://a.com/apple', withSlash)).toBeUndefined();
  });
});

describe('assertTrusted', () => {
  const trusted = ['https://a.com/app', 'https://a.com/admin'].map((u) => parseTrustedUrl(u));

  function detail(candidate: string, list: TrustedUrl[] = trusted): string {
    try {
      assertTrusted(candidate, list);
    } catch (error) {
      expect(error).toBeInstanceOf(UntrustedDomainError);
      expect(error).toMatchObject({ code: 70002, status: 400, message: 'Trusted Login has not been enabled for this domain.' });
      return (error as UntrustedDomainError).moreInfo ?? '';
    }
    throw new Error(`expected ${candidate} to be untrusted`);
  }

  it('returns the matching Trusted URL', () => {
    expect(assertTrusted('https://a.com/admin/users', trusted)).toBe(trusted[1]);
  });

  it('names the origin that is not trusted', () => {
    expect(detail('https://evil.com/app')).toMatch(/its origin https:\/\/evil\.com is not one of the account's Trusted URLs/);
    expect(detail('http://a.com/app')).toMatch(/http:\/\/ is only allowed for localhost/);
  });

  it('names the path and the trusted paths of that origin', () => {
    expect(detail('https://a.com/apple')).toMatch(/its path \/apple is not on or below the trusted path\(s\) \/app, \/admin of https:\/\/a\.com/);
  });

  it('names the rule when the redirect itself is suspicious', () => {
    expect(detail('https://a.com/app/../admin')).toMatch(/dot segments/);
    expect(detail('https://a.com@evil.com/app')).toMatch(/user information/);
    expect(detail('https://a.com/app#x')).toMatch(/fragments/);
  });

  it('says when the account has no Trusted URLs at all', () => {
    expect(detail('https://a.com/app', [])).toMatch(/no Trusted URLs/);
  });
});

describe('exactRedirectMatch (standard OIDC surface)', () => {
  const registered = ['https://rp.example.com/cb', 'http://127.0.0.1/callback', 'http://[::1]:8080/cb', 'http://localhost:3000/cb'];

  it.each([
    'https://rp.example.com/cb',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:51234/callback',
    'http://127.0.0.1:80/callback',
    'http://[::1]:8080/cb',
    'http://[::1]:1/cb',
    'http://[::1]/cb',
    'http://localhost:3000/cb',
    'http://localhost:49152/cb',
    'http://localhost/cb',
  ])('%s matches', (candidate) => {
    expect(exactRedirectMatch(candidate, registered)).toBe(true);
  });

  it.each([
    ['trailing slash (RFC 9700: no normalisation)', 'https://rp.example.com/cb/'],
    ['host case', 'https://RP.example.com/cb'],
    ['explicit default port', 'https://rp.example.com:443/cb'],
    ['added query', 'https://rp.example.com/cb?x=1'],
    ['fragment', 'https://rp.example.com/cb#x'],
    ['path case', 'https://rp.example.com/CB'],
    ['dot segments', 'https://rp.example.com/x/../cb'],
    ['encoded path', 'https://rp.example.com/%63b'],
    ['port on a non-loopback host', 'https://rp.example.com:8443/cb'],
    ['loopback by name, registered by address', 'http://localhost:5000/callback'],
    ['loopback by address, registered by another address', 'http://127.0.0.1:5000/cb'],
    ['loopback path below', 'http://127.0.0.1:5000/callback/x'],
    ['loopback path case', 'http://127.0.0.1:5000/Callback'],
    ['loopback added query', 'http://127.0.0.1:5000/callback?x=1'],
    ['loopback fragment', 'http://127.0.0.1:5000/callback#x'],
    ['loopback userinfo', 'http://127.0.0.1:5000@evil.com/callback'],
    ['loopback-looking host', 'http://127.0.0.1.evil.com/callback'],
    ['loopback backslash', 'http://127.0.0.1:5000\\@evil.com/callback'],
    ['loopback over https', 'https://127.0.0.1:5000/callback'],
    ['loopback shorthand address', 'http://127.1:5000/callback'],
    ['loopback empty port', 'http://127.0.0.1:/callback'],
    ['loopback port out of range', 'http://127.0.0.1:65536/callback'],
    ['loopback dot segments', 'http://127.0.0.1:5000/x/../callback'],
  ])('%s: %s does not match', (_why, candidate) => {
    expect(exactRedirectMatch(candidate, registered)).toBe(false);
  });

  it('matches nothing when nothing is registered', () => {
    expect(exactRedirectMatch('http://127.0.0.1:5000/callback', [])).toBe(false);
  });

  // Values stored before the redirect URI validator refused them: equal strings, but the browser
  // would go somewhere else (tab dropped, backslash read as "/", userinfo host, "?error" after "#").
  it.each([
    ['a tab', 'https://rp.example.com/c\tb'],
    ['a newline', 'https://rp.example.com/cb\n'],
    ['a space', 'https://rp.example.com/c b'],
    ['a backslash', 'https://rp.example.com\\@evil.example/cb'],
    ['a fragment', 'https://rp.example.com/cb#'],
    ['userinfo', 'https://rp.example.com@evil.example/cb'],
  ])('a stored URI with %s never matches, even character for character', (_why, uri) => {
    expect(exactRedirectMatch(uri, [uri])).toBe(false);
  });
});

describe('isCoveredBy (Default redirect URL under a Trusted URL)', () => {
  it('is true on or below a Trusted URL on a "/" boundary, false otherwise or for unparsable entries', () => {
    expect(isCoveredBy('https://a.example.com/desk/', ['https://a.example.com/desk'])).toBe(true);
    expect(isCoveredBy('https://a.example.com/desk', ['https://a.example.com/desk'])).toBe(true);
    expect(isCoveredBy('https://a.example.com/desktop', ['https://a.example.com/desk'])).toBe(false);
    expect(isCoveredBy('https://b.example.com/desk/', ['https://a.example.com/desk'])).toBe(false);
    expect(isCoveredBy('https://a.example.com/desk/', [])).toBe(false);
    expect(isCoveredBy('https://a.example.com/desk/', ['not a url'])).toBe(false);
  });
});

describe('properties', () => {
  const label = fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8})?$/);
  const host = fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
    .map(([labels, tld]) => [...labels, tld].join('.'));
  const segment = fc.stringMatching(/^[A-Za-z0-9_~!$&'()+,;=:@-]{1,10}$/).filter((s) => s !== '.' && s !== '..');
  const segments = fc.array(segment, { maxLength: 6 });
  const pathOf = (parts: string[], slash: boolean) => `/${parts.join('/')}${slash && parts.length > 0 ? '/' : ''}`;
  const query = fc.option(fc.stringMatching(/^[A-Za-z0-9=&%._/-]{0,20}$/), { nil: undefined });

  it('any URL under a trusted path matches it', () => {
    fc.assert(
      fc.property(host, segments, segments, query, fc.boolean(), (h, base, below, q, slash) => {
        const trusted = parseTrustedUrl(`https://${h}${pathOf(base, slash)}`);
        const path = [...base, ...below].join('/');
        const candidate = `https://${h.toUpperCase()}/${path}${q === undefined ? '' : `?${q}`}`;
        expect(matchesTrustedUrl(candidate, [trusted])).toBe(trusted);
      }),
    );
  });

  it('a path that only shares a prefix with the trusted path never matches', () => {
    fc.assert(
      fc.property(host, segments, segment, segment, (h, base, last, extra) => {
        const trusted = parseTrustedUrl(`https://${h}/${[...base, last].join('/')}`);
        expect(matchesTrustedUrl(`https://${h}/${[...base, last + extra].join('/')}`, [trusted])).toBeUndefined();
      }),
    );
  });

  it('a host other than the trusted host never matches: generated, prefixed, suffixed or a subdomain', () => {
    const other = fc.oneof(
      fc.tuple(host, host).map(([trusted, candidate]) => ({ trusted, candidate })),
      fc.tuple(host, label).map(([trusted, extra]) => ({ trusted, candidate: `${extra}${trusted}` })),
      fc.tuple(host, label).map(([trusted, extra]) => ({ trusted, candidate: `${extra}.${trusted}` })),
      fc.tuple(host, label).map(([trusted, extra]) => ({ trusted, candidate: `${trusted}.${extra}` })),
      fc.tuple(host, label).map(([trusted, extra]) => ({ trusted, candidate: `${trusted}${extra}` })),
      fc.tuple(host, label).map(([trusted, extra]) => ({ trusted, candidate: `${trusted}@${extra}` })),
      host.map((trusted) => ({ trusted, candidate: trusted.replaceAll('a', CYRILLIC_A) })),
    );
    fc.assert(
      fc.property(other, segments, ({ trusted, candidate }, path) => {
        fc.pre(candidate !== trusted);
        const list = [parseTrustedUrl(`https://${trusted}`)];
        expect(matchesTrustedUrl(`https://${candidate}/${path.join('/')}`, list)).toBeUndefined();
      }),
    );
  });

  it('parse → url → parse is idempotent, and href parses to the same entry', () => {
    const idnLabel = fc.constantFrom('bücher', 'пример', 'münchen', '例え', 'CAFÉ');
    const anyHost = fc.oneof(
      host,
      fc.tuple(idnLabel, host).map(([idn, h]) => `${idn}.${h}`),
    );
    const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
    const scheme = fc.constantFrom('https', 'HTTPS', 'Https');
    fc.assert(
      fc.property(scheme, anyHost, port, segments, fc.boolean(), (s, h, p, path, slash) => {
        const input = `${s}://${h}${p === undefined ? '' : `:${p}`}${pathOf(path, slash)}`;
        const once = parseTrustedUrl(input);
        const twice = parseTrustedUrl(once.url);
        expect(twice).toMatchObject({ url: once.url, origin: once.origin, path: once.path });
        expect(parseTrustedUrl(twice.url)).toEqual(twice);
        expect(parseTrustedUrl(once.href).url).toBe(once.url);
        expect(matchesTrustedUrl(once.href, [once])).toBe(once);
      }),
    );
  });

  // Strings built from the characters redirect bypasses are made of.
  const hostile = fc
    .array(
      fc.constantFrom(
        '/',
        '//',
        '\\',
        '.',
        '..',
        '%2e',
        '%2E',
        '%2f',
        '%5c',
        '%00',
        '%',
        '@',
        '#',
        '?',
        ':',
        ':443',
        '\t',
        '\n',
        ' ',
        '*',
        'a',
        'app',
        'a.com',
        'evil.com',
        CYRILLIC_A,
        'ß',
        '。',
      ),
      {
        maxLength: 12,
      },
    )
    .map((parts) => parts.join(''));

  it('whatever matches is where a browser would really go: the trusted origin, on or below the trusted path', () => {
    const trusted = [parseTrustedUrl('https://a.com/app')];
    fc.assert(
      fc.property(fc.constantFrom('https://a.com', 'https://a.com/app', 'https://', 'https:', ''), hostile, (prefix, rest) => {
        const candidate = prefix + rest;
        const match = matchesTrustedUrl(candidate, trusted);
        if (!match) return;
        const url = new URL(candidate);
        expect(url.origin).toBe('https://a.com');
        expect(url.username + url.password + url.hash).toBe('');
        expect(url.pathname === '/app' || url.pathname.startsWith('/app/')).toBe(true);
        // Nothing a server could decode into a different path either.
        const decoded = url.pathname.replace(/%[0-9a-f]{2}/gi, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)));
        expect(decoded.split('/')).not.toContain('..');
        expect(decoded).not.toMatch(/[\\\0]|\/\//);
        expect(candidate).not.toMatch(/[\\\s#]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('a parsed Trusted URL never carries a query, fragment, userinfo or wildcard, and only fails with InvalidParameterError', () => {
    fc.assert(
      fc.property(fc.constantFrom('https://a.com', 'https://', 'http://localhost', 'http://'), hostile, (prefix, rest) => {
        let parsed: TrustedUrl;
        try {
          parsed = parseTrustedUrl(prefix + rest);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidParameterError);
          return;
        }
        const url = new URL(parsed.url);
        expect(url.search + url.hash + url.username + url.password).toBe('');
        expect(parsed.url).not.toContain('*');
        expect(parseTrustedUrl(parsed.url)).toMatchObject({ url: parsed.url, origin: parsed.origin, path: parsed.path });
      }),
      { numRuns: 2000 },
    );
  });

  it('exactRedirectMatch only ever relaxes the port of a loopback URI', () => {
    const registeredUri = fc.constantFrom('http://127.0.0.1/cb', 'http://[::1]:9000/cb', 'http://localhost/cb', 'https://rp.example.com/cb');
    const origin = fc.constantFrom('http://127.0.0.1', 'http://[::1]', 'http://localhost', 'https://rp.example.com', 'http://127.0.0.1.evil.com', '');
    const port = fc.oneof(
      fc.constant(''),
      fc.integer({ min: 0, max: 99999 }).map((p) => `:${p}`),
      hostile,
    );
    const tail = fc.oneof(
      fc.constant('/cb'),
      hostile.map((rest) => `/cb${rest}`),
      hostile,
    );
    const withoutPort = (uri: string) => uri.replace(/^(http:\/\/(?:\[::1\]|[^/:?]+))(:\d+)?/, '$1');
    fc.assert(
      fc.property(registeredUri, origin, port, tail, (uri, o, p, t) => {
        const candidate = o + p + t;
        if (!exactRedirectMatch(candidate, [uri]) || candidate === uri) return;
        expect(candidate.startsWith('http://')).toBe(true);
        expect(new URL(candidate).hostname).toBe(new URL(uri).hostname);
        expect(withoutPort(candidate)).toBe(withoutPort(uri));
      }),
      { numRuns: 2000 },
    );
  });
});
