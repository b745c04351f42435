import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { validateRedirectUris } from '../../packages/server/src/accounts/redirect-uris.ts';
import { createTokenCore, mintCode, type TokenCore } from '../support/token-core.ts';

/**
 * Review of the "scope limits claims" fix: the ID token and userinfo honour scope, but the
 * standard-surface access token (a plain JWT the client holds) still carries the user's email,
 * name, Flex identity, IdP name_id and roles whatever the scope, so a client granted `openid`
 * only reads them there; introspection also answers `username` (the identity) for it.
 */
describe('scope-limited claims: the OIDC access token', () => {
  const cores: TokenCore[] = [];
  afterAll(async () => {
    for (const c of cores) await c.close();
  });

  it('a grant of scope "openid" releases no profile, email or roles claim in the access token', async () => {
    const c = await createTokenCore('sqlite');
    cores.push(c);
    const { code, verifier } = await mintCode(c, { surface: 'oidc', redirectUrl: 'https://rp.example.test/cb', scope: 'openid' });
    const issued = await c.tokens.exchangeCode({
      code,
      codeVerifier: verifier,
      surface: 'oidc',
      clientId: c.connection.clientId,
      redirectUrl: 'https://rp.example.test/cb',
    });
    const idToken = decodeJwt(issued.idToken!);
    expect(idToken.email).toBeUndefined(); // holds since the fix
    const accessToken = decodeJwt(issued.accessToken);
    expect({
      email: accessToken.email,
      full_name: accessToken.full_name,
      identity: accessToken.identity,
      name_id: accessToken.name_id,
      roles: accessToken.roles,
    }).toEqual({ email: undefined, full_name: undefined, identity: undefined, name_id: undefined, roles: undefined });
  });
});

describe('redirect URI validator: RFC 8252 §7.1 single slash', () => {
  it('refuses an authority after a private-use scheme whatever its case', () => {
    expect(() => validateRedirectUris(['com.example.app://evil.example/cb'], { allowPrivateUse: true })).toThrow(/single "\/"/);
    // new URL lower-cases the scheme, the check compares it with the raw string: accepted.
    expect(() => validateRedirectUris(['COM.Example.App://evil.example/cb'], { allowPrivateUse: true })).toThrow(/single "\/"/);
  });
});
