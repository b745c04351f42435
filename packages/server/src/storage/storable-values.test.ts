import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, storableKey, storablePayload } from './storable-values.ts';

describe('storableKey (keys built from outside text: SAML replay)', () => {
  it('keeps a key a backend can store, and digests one it cannot, one-to-one', () => {
    expect(storableKey('https://idp.example.com|_a1b2')).toBe('https://idp.example.com|_a1b2');
    const digests = ['x|\u0000', 'x|\ud800', 'x|\udc00', `${'é'.repeat(MAX_KEY_BYTES)}|_1`, `${'é'.repeat(MAX_KEY_BYTES)}|_2`].map(storableKey);
    for (const digest of digests) expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set(digests).size).toBe(digests.length);
    expect(storableKey('x|\u0000')).toBe(digests[0]);
  });
});

describe('storablePayload', () => {
  it('replaces only the escapes JSON.stringify writes for a NUL or an unpaired surrogate, whatever backslashes precede them', () => {
    const cases: Array<[string, string]> = [
      ['\u0000', '\ufffd'],
      ['\\\u0000', '\\\ufffd'],
      ['\\\\\u0000', '\\\\\ufffd'],
      ['\\u0000', '\\u0000'],
      ['\\\\u0000', '\\\\u0000'],
      ['\ud83d\ude00', '\ud83d\ude00'],
      ['\ud83d', '\ufffd'],
      ['\ude00\ud83d', '\ufffd\ufffd'],
      ['\\uD800', '\\uD800'],
    ];
    for (const [sent, kept] of cases)
      expect(JSON.parse(storablePayload({ kind: 'k', id: 'i', payload: { v: sent } })).v, JSON.stringify(sent)).toBe(kept);
  });
});
