import type { LanyardConfig } from '../config.ts';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AccountService } from '../accounts/account-service.ts';
import type { SpKeys } from '../connections/sp-keys.ts';
import type { Storage } from '../storage/port.ts';
import type { LoginService } from './login-service.ts';
import { InvalidParameterError, NotFoundError } from '../errors.ts';
import { requireSid } from '../ids.ts';
import { OIDC_CALLBACK_PATH } from './connection-protocols.ts';
import type { RelayStateHandlers } from './relay-states.ts';
import { postBindingPage, readSamlPost, SAML_POST_PATH, type RequestBodyReader } from './saml-post-binding.ts';
import { serviceProviderMetadataFor } from './service-provider-metadata.ts';
import { enhancedServiceProvider } from './service-providers.ts';

/** What the broker's own endpoints use; the composition root (index.ts) passes just these. */
export interface LoginRouteDependencies {
  login: LoginService;
  accounts: AccountService;
  spKeys: SpKeys;
  config: Pick<LanyardConfig, 'publicUrl'>;
  storage: Storage;
  /** The sign-in pages' per-address budget (http/rate-limit.ts's `RateLimits` fits). */
  rateLimits: { route(group: 'login'): MiddlewareHandler };
  /** Features that share the ACS and the OIDC callback (the console's test sign-in) registered their RelayStates here. */
  relayStates: RelayStateHandlers;
  /** Reads the IdP's POST at the ACS, with the app's body limit (http/request-body.ts `readBodyBytes`). */
  readBody: RequestBodyReader;
}

/**
 * The request variables the broker's pages set. The app's own (http/app-types.ts `App`) include
 * them; named here so that the broker depends on no surface: its routes are a Hono app of their
 * own that the composition root mounts (`http/app.ts` `mounted`).
 */
export type BrokerEnv = { Variables: { browserFacing: boolean } };

/**
 * The broker's endpoints, every one the IdP calls back on the enhanced service provider: the
 * assertion consumer service (`/login/callback?connection=JQ…`), the SP metadata
 * (`/login/metadata?connection=JQ…`), the OpenID Connect callback (register it at the provider),
 * and the HTTP-POST binding page that carries a staged AuthnRequest to the IdP.
 */
export function loginRoutes({
  login,
  accounts,
  spKeys,
  config,
  storage,
  rateLimits,
  relayStates,
  readBody,
}: LoginRouteDependencies): Hono<BrokerEnv> {
  const app = new Hono<BrokerEnv>();
  app.get(SAML_POST_PATH, rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const id = c.req.query('request');
    if (!id || id.length > 200) throw new InvalidParameterError('request is missing: start the sign-in again.');
    const page = await postBindingPage(storage, id);
    c.header('Content-Security-Policy', page.csp);
    c.header('Cache-Control', 'no-store');
    return c.html(page.html);
  });

  // SAML HTTP-POST binding (SAML bindings §3.5): the IdP's answer, through the browser.
  app.post('/login/callback', rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const connectionSid = requireSid('connection', c.req.query('connection'), 'connection');
    const { SAMLResponse: samlResponse, RelayState: relayState } = await readSamlPost(c, readBody);
    const message = samlResponse ? { samlResponse } : undefined;
    const registered = await relayStates.answer(c, { serviceProvider: 'enhanced', sid: connectionSid }, message, relayState);
    if (registered) return registered;
    const outcome = await login.complete({ connectionSid, signInId: relayState, message });
    return c.redirect(outcome.redirectTo, 303);
  });

  app.get('/login/metadata', async (c) => {
    const connectionSid = requireSid('connection', c.req.query('connection'), 'connection');
    const connection = await accounts.getConnection(connectionSid).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const xml = await serviceProviderMetadataFor(spKeys, enhancedServiceProvider(config.publicUrl, connectionSid), connection);
    c.header('Content-Type', 'application/samlmetadata+xml');
    return c.body(xml);
  });

  app.get(OIDC_CALLBACK_PATH, rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const callback = new URL(c.req.url);
    // The URL the provider redirected to, as registered: our public URL, not the listening address.
    const callbackUrl = new URL(`${config.publicUrl}${OIDC_CALLBACK_PATH}${callback.search}`);
    const state = callbackUrl.searchParams.get('state') ?? undefined;
    const message = { callback: callbackUrl };
    // The URL names no connection: the feature that registered the state's prefix checks its own.
    const registered = await relayStates.answer(c, { serviceProvider: 'enhanced', sid: null }, message, state);
    if (registered) return registered;
    const outcome = await login.complete({ signInId: state, message });
    return c.redirect(outcome.redirectTo, 303);
  });
  return app;
}
