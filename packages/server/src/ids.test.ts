import { describe, expect, it } from 'vitest';
import { encodeIdentity, isSid, newSid, requireSid } from './ids.ts';

describe('ids', () => {
  it('encodes identities per the SPEC example', () => {
    expect(encodeIdentity('ada@x.org')).toBe('ada_40x_2Eorg');
    expect(encodeIdentity('é')).toBe('_C3_A9');
  });
  it('creates and recognises SIDs', () => {
    const sid = newSid('account');
    expect(sid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(isSid('account', sid)).toBe(true);
    expect(isSid('connection', sid)).toBe(false);
    expect(() => requireSid('account', 'ACnope', 'AccountSid')).toThrow(/^AccountSid must be an account SID: AC followed by 32 hex characters/);
  });
});
