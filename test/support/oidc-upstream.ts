import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface UpstreamUser {
  sub: string;
  name?: string;
  email?: string;
  roles?: string[];
  groups?: string[];
  /** Further claims as the provider sends them, nested objects included (Keycloak's realm_access). */
  extra?: Record<string, unknown>;
  /** How the provider says it authenticated this user: its ID tokens' `acr` and `amr`. */
  acr?: string;
  amr?: string[];
}

export async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

/**
 * A real OpenID Provider (panva's oidc-provider, certified) on loopback, standing in for Entra ID,
 * Google or Okta. `rotate` restarts it on the same issuer with new signing keys.
 */
export async function startUpstreamProvider(options: {
  users: UpstreamUser[];
  redirectUri: string;
  clientId: string;
  clientSecret: string;
  keys: JWK[];
}) {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const build = (keys: JWK[]) =>
    new Provider(issuer, {
      clients: [
        {
          client_id: options.clientId,
          client_secret: options.clientSecret,
          redirect_uris: [options.redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      jwks: { keys },
      scopes: ['openid', 'profile', 'email', 'roles'],
      // acr and amr with the openid scope: in every ID token whose login recorded them, as Entra ID
      // and Okta send them (oidc-provider otherwise sends acr only when the client asks for it).
      claims: { openid: ['sub', 'acr', 'amr'], profile: ['name'], email: ['email'], roles: ['roles', 'groups', 'realm_access', 'resource_access'] },
      pkce: { required: () => true },
      cookies: { keys: ['test-cookie-key'] },
      findAccount: async (_ctx, id) => {
        const user = options.users.find((u) => u.sub === id);
        if (!user) return undefined;
        const { extra, acr: _acr, amr: _amr, ...plain } = user;
        return { accountId: id, claims: async () => ({ ...plain, ...extra }) };
      },
    });

  // The development login page finishes with the account only; a real provider's login also
  // records how it authenticated (oidc-provider's login result `acr` / `amr`, put in its ID tokens).
  const withAuthenticationContext = (provider: Provider) => {
    const finished = provider.interactionFinished.bind(provider);
    provider.interactionFinished = (req, res, result, finishOptions) => {
      const login = result.login as { accountId: string; acr?: string; amr?: string[] } | undefined;
      const user = login && options.users.find((u) => u.sub === login.accountId);
      if (login && user?.acr) login.acr = user.acr;
      if (login && user?.amr) login.amr = user.amr;
      return finished(req, res, result, finishOptions);
    };
    return provider;
  };

  const listen = (provider: Provider) => {
    server.removeAllListeners('request');
    server.on('request', provider.callback());
  };
  listen(withAuthenticationContext(build(options.keys)));

  return {
    issuer,
    /** Same issuer, new signing keys (the old provider state is dropped, as after a restart). */
    rotate(keys: JWK[]) {
      listen(withAuthenticationContext(build(keys)));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Plays the browser through oidc-provider's development login and consent pages; with `abort`,
 * the user follows the page's "Cancel" link instead, and the provider answers `access_denied`.
 */
export async function upstreamLoginHeadless(authorizeUrl: string, login: string, options: { abort?: boolean } = {}): Promise<URL> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = authorizeUrl;
  for (let step = 0; step < 12; step++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader() } });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      if (!next.pathname.startsWith('/auth') && !next.pathname.startsWith('/interaction')) return next;
      url = next.toString();
      continue;
    }
    const html = await response.text();
    const abort = /<a href="([^"]+\/abort)"/.exec(html)?.[1];
    if (options.abort && abort) {
      url = new URL(abort, url).toString();
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`unexpected upstream page (${response.status}): ${html.slice(0, 300)}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const body: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt: prompt ?? 'consent' };
    const submit = await fetch(new URL(action, url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader() },
      body: new URLSearchParams(body),
    });
    for (const cookie of submit.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    url = new URL(submit.headers.get('location')!, url).toString();
  }
  throw new Error('the upstream login did not finish');
}
