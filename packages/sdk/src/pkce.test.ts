import { describe, expect, it } from 'vitest';
import { base64Url, codeChallengeS256, createPkcePair, randomString } from './pkce.ts';

// RFC 7636 Appendix B: the octets, the verifier they encode to, and its S256 challenge.
const OCTETS = [
  116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
];
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('PKCE', () => {
  it('encodes the RFC 7636 Appendix B octets to its verifier and challenge', async () => {
    expect(base64Url(Uint8Array.from(OCTETS))).toBe(VERIFIER);
    expect(await codeChallengeS256(VERIFIER)).toBe(CHALLENGE);
    const pair = await createPkcePair((bytes) => {
      bytes.set(OCTETS);
      return bytes;
    });
    expect(pair).toEqual({ verifier: VERIFIER, challenge: CHALLENGE });
  });

  it('makes verifiers the server accepts: 43 characters of the unreserved set, fresh each time', async () => {
    const a = await createPkcePair();
    const b = await createPkcePair();
    expect(a.verifier).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
    expect(a.verifier).not.toBe(b.verifier);
    expect(randomString(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
