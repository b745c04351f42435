import { describe, expect, it } from 'vitest';
import { validateRedirectUris, webOrigin } from './redirect-uris.ts';

describe('validateRedirectUris (every stored redirect URI)', () => {
  it.each([
    ['a fragment', 'https://rp.example.com/cb#', /fragment/],
    ['a tab', 'https://rp.example.com/c\tb', /tabs/],
    ['a newline', 'https://rp.example.com/cb\n', /newlines/],
    ['a space', 'https://rp.example.com/c b', /spaces/],
    ['a no-break space', 'https://rp.example.com/c\u00a0b', /spaces/],
    ['a backslash', 'https://rp.example.com\\@evil.example/cb', /backslashes/],
    ['userinfo that reads like a host', 'https://rp.example.com@evil.example/cb', /user information/],
    ['userinfo with a password', 'https://a:b@rp.example.com/cb', /user information/],
    ['a wildcard host', 'https://*.example.com/cb', /wildcards/],
    ['a wildcard path', 'https://rp.example.com/*', /wildcards/],
    ['plain http off loopback', 'http://rp.example.com/cb', /https/],
    ['a relative URI', '/cb', /absolute/],
    ['javascript:', 'javascript:alert(1)', /private-use scheme/],
    ['a private-use scheme with an authority', 'com.example.app://rp.example.com/cb', /single "\/"/],
  ])('refuses %s', (_name, uri, message) => {
    expect(() => validateRedirectUris([uri], { allowPrivateUse: true })).toThrow(message);
  });

  it('takes https, loopback http and, for public clients only, private-use schemes', () => {
    expect(
      validateRedirectUris(['https://rp.example.com/cb', 'http://127.0.0.1:5000/cb', 'https://rp.example.com/cb'], { allowPrivateUse: false }),
    ).toEqual(['https://rp.example.com/cb', 'http://127.0.0.1:5000/cb']);
    expect(validateRedirectUris(['com.example.app:/cb'], { allowPrivateUse: true })).toEqual(['com.example.app:/cb']);
    expect(() => validateRedirectUris(['com.example.app:/cb'], { allowPrivateUse: false })).toThrow(/public clients/);
  });
});

describe('webOrigin (CORS origins from stored redirect URIs)', () => {
  it('is the origin of https/http URIs and nothing for private-use schemes (never "null")', () => {
    expect(webOrigin('https://rp.example.com/cb')).toBe('https://rp.example.com');
    expect(webOrigin('http://127.0.0.1:5000/cb')).toBe('http://127.0.0.1:5000');
    expect(webOrigin('com.example.app:/cb')).toBeUndefined();
    expect(webOrigin('file:///etc/passwd')).toBeUndefined();
  });
});
