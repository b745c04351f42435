import { decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { signEs256 } from './compact-jws.ts';

describe('signEs256', () => {
  it('makes a compact JWS that jose verifies, with a 64-byte R||S signature', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const exp = Math.floor(Date.now() / 1000) + 60;
    const token = await signEs256(
      { alg: 'ES256', kid: 'k1', typ: 'at+jwt' },
      { iss: 'https://sso.example.com', sub: 'FU1', exp, roles: ['agent'] },
      privateKey,
    );
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, {
      issuer: 'https://sso.example.com',
      algorithms: ['ES256'],
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'FU1', exp, roles: ['agent'] });
    expect(protectedHeader).toEqual(decodeProtectedHeader(token));
    expect(Buffer.from(token.split('.')[2]!, 'base64url')).toHaveLength(64);
  });

  it('signs what it was given: a changed payload or another key does not verify', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const token = await signEs256({ alg: 'ES256' }, { sub: 'FU1' }, privateKey);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'FU2' })).toString('base64url')}.${signature}`;
    await expect(jwtVerify(forged, publicKey)).rejects.toThrow(/signature verification failed/);
    await expect(jwtVerify(token, other.publicKey)).rejects.toThrow(/signature verification failed/);
  });
});
