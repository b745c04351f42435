import { decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTokenCore, mintCode, type TokenCore } from '../../../../test/support/token-core.ts';
import { VerifiedTokens } from './verified-tokens.ts';

/**
 * A token whose signature this node verified once is not verified again (verified-tokens.ts):
 * these are the ways a remembered token must still be refused.
 */
describe('AccessTokens: tokens verified before', () => {
  const cores: TokenCore[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cores.splice(0)) await c.close();
  });

  async function signedIn() {
    const c = await createTokenCore('sqlite');
    cores.push(c);
    const { code, verifier } = await mintCode(c);
    const issued = await c.tokens.exchangeCode({ code, codeVerifier: verifier, surface: 'flex', connectionSid: c.connection.sid });
    // Verified once: from here on the token is remembered.
    await c.tokens.verifyAccessTokenFor('desktop', issued.accessToken, { accountSid: c.account.sid });
    return { c, token: issued.accessToken, sessionId: issued.session.id, refreshToken: issued.refreshToken };
  }

  it('refuses a token differing from a remembered one in any byte of its signature', async () => {
    const { c, token } = await signedIn();
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const forged = token.slice(0, -2) + last + token.at(-1);
    await expect(c.accessTokens.verify(forged)).rejects.toMatchObject({ status: 401, message: 'The token signature is invalid.' });
    // Claims altered under the remembered signature: a different string, so fully verified, and refused.
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    await expect(c.accessTokens.verify(`${header}.${altered}.${signature}`)).rejects.toMatchObject({ status: 401 });
    await expect(c.accessTokens.verify(token)).resolves.toMatchObject({ roles: ['agent'] });
  });

  it('refuses a remembered token once it has expired', async () => {
    const { c, token } = await signedIn();
    const { exp } = await c.accessTokens.verify(token);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(exp * 1000);
    await expect(c.accessTokens.verify(token)).rejects.toMatchObject({ status: 401, message: 'The token has expired.' });
  });

  it('refuses a remembered token whose session was revoked or whose user was disabled', async () => {
    const first = await signedIn();
    await first.c.tokens.revokeSession(first.sessionId, 'revoked_by_admin');
    await expect(first.c.tokens.verifyAccessTokenFor('desktop', first.token, { accountSid: first.c.account.sid })).rejects.toMatchObject({
      message: 'The session of this token has been revoked.',
    });
    const second = await signedIn();
    await second.c.users.setDisabled(second.c.user.sid, true);
    await expect(second.c.tokens.verifyAccessTokenFor('desktop', second.token, { accountSid: second.c.account.sid })).rejects.toMatchObject({
      message: 'This user has been disabled by an administrator.',
    });
  });

  it('remembers a token only in its compact spelling: padded variants of one token cannot fill the memory', async () => {
    const { c, token } = await signedIn();
    const lookups = vi.spyOn(VerifiedTokens.prototype, 'get');
    // base64url decoding (atob's forgiving decode) skips whitespace and '=' in the signature
    // segment, so these verify: a megabyte each, from one token, e.g. as userinfo's access_token.
    const variants = [`${token}${' '.repeat(1024 * 1024 - token.length)}`, `${token}==`, `${token.slice(0, -10)}\n\t${token.slice(-10)}`];
    for (const variant of [...variants, ...variants]) await expect(c.accessTokens.verify(variant)).resolves.toMatchObject({ roles: ['agent'] });
    await c.accessTokens.verify(token);
    // Every variant was verified in full each time (never remembered); the token itself is.
    const found = lookups.mock.results.map((result) => result.value !== undefined);
    lookups.mockRestore();
    expect(found).toEqual([false, false, false, false, false, false, true]);
  });

  it('gives no caller the remembered claims to change: the next request sees them as verified', async () => {
    const { c, refreshToken } = await signedIn();
    // A token this node has not verified yet: the first verification remembers it.
    const { accessToken } = await c.tokens.refresh({ surface: 'flex', refreshToken });
    // A caller that changes what it was given (the first time, then on a hit) changes nothing else.
    for (let call = 0; call < 2; call++) {
      const claims = await c.accessTokens.verify(accessToken);
      expect(() => (claims.roles as string[]).push('admin')).toThrow(TypeError);
      expect(() => Object.assign(claims, { sub: 'US0' })).toThrow(TypeError);
      expect(await c.accessTokens.verify(accessToken)).toMatchObject({ roles: ['agent'], sub: c.user.sid });
    }
  });

  it('refuses a remembered token once its signing key is gone', async () => {
    const { c, token } = await signedIn();
    const { kid } = decodeProtectedHeader(token);
    await c.storage.destroy('signing_key', kid!);
    await c.keys.reload();
    await expect(c.accessTokens.verify(token)).rejects.toMatchObject({ status: 401, message: 'The token was signed with an unknown key.' });
  });
});
