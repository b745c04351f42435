import type { RouteModule } from '../http/app.ts';

/** Where OpenID Connect providers send the browser back (register this URL at the provider). */
export const loginRoutes: RouteModule = (app, { login, config, rateLimits }) => {
  app.get('/login/oidc/callback', rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const callback = new URL(c.req.url);
    // The URL the provider redirected to, as registered: our public URL, not the listening address.
    const registered = new URL(`${config.publicUrl}/login/oidc/callback${callback.search}`);
    const outcome = await login.completeOidc(registered);
    return c.redirect(outcome.redirectTo, 303);
  });
};
