import type { LanyardConfig } from '../config.ts';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Storage } from '../storage/port.ts';
import type { LoginService } from './login-service.ts';
import { InvalidParameterError } from '../errors.ts';
import { OIDC_CALLBACK_PATH } from './connection-protocols.ts';
import { postBindingPage, SAML_POST_PATH } from './saml-post-binding.ts';

/** What the broker's own pages use; the composition root (index.ts) passes just these. */
export interface LoginRouteDependencies {
  login: LoginService;
  config: Pick<LanyardConfig, 'publicUrl'>;
  storage: Storage;
  /** The sign-in pages' per-address budget (http/rate-limit.ts's `RateLimits` fits). */
  rateLimits: { route(group: 'login'): MiddlewareHandler };
}

/**
 * The request variables the broker's pages set. The app's own (http/app-types.ts `App`) include
 * them; named here so that the broker depends on no surface: its routes are a Hono app of their
 * own that the composition root mounts (`http/app.ts` `mounted`).
 */
export type BrokerEnv = { Variables: { browserFacing: boolean } };

/**
 * The broker's browser pages: the HTTP-POST binding page, and where OpenID Connect providers send
 * the browser back (register this URL at the provider).
 */
export function loginRoutes({ login, config, storage, rateLimits }: LoginRouteDependencies): Hono<BrokerEnv> {
  const app = new Hono<BrokerEnv>();
  // HTTP-POST binding: the page that carries a staged AuthnRequest to the IdP.
  app.get(SAML_POST_PATH, rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const id = c.req.query('request');
    if (!id || id.length > 200) throw new InvalidParameterError('request is missing: start the sign-in again.');
    const page = await postBindingPage(storage, id);
    c.header('Content-Security-Policy', page.csp);
    c.header('Cache-Control', 'no-store');
    return c.html(page.html);
  });

  app.get(OIDC_CALLBACK_PATH, rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const callback = new URL(c.req.url);
    // The URL the provider redirected to, as registered: our public URL, not the listening address.
    const registered = new URL(`${config.publicUrl}${OIDC_CALLBACK_PATH}${callback.search}`);
    const outcome = await login.complete({ signInId: registered.searchParams.get('state') ?? undefined, message: { callback: registered } });
    return c.redirect(outcome.redirectTo, 303);
  });
  return app;
}
