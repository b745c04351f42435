import type { RouteModule } from '../http/app.ts';
import { InvalidParameterError } from '../errors.ts';
import { postBindingPage, SAML_POST_PATH } from './saml-post-binding.ts';

/** Where OpenID Connect providers send the browser back (register this URL at the provider). */
export const loginRoutes: RouteModule = (app, { login, config, storage, rateLimits }) => {
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

  app.get('/login/oidc/callback', rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const callback = new URL(c.req.url);
    // The URL the provider redirected to, as registered: our public URL, not the listening address.
    const registered = new URL(`${config.publicUrl}/login/oidc/callback${callback.search}`);
    const outcome = await login.completeOidc(registered);
    return c.redirect(outcome.redirectTo, 303);
  });
};
