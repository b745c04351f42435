import { z } from 'zod';
import type { RelayStateHandlers } from '../login/relay-states.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { LegacyLoginService } from './legacy-login-service.ts';
import { readBodyBytes, readJson } from '../http/request-body.ts';
import { readSamlPost } from '../login/saml-post-binding.ts';
import { requireSid } from '../ids.ts';
import { InvalidParameterError } from '../errors.ts';

const authenticateBody = z.object({
  products: z.array(z.string()).optional(),
  resource: z.string().min(1).max(2048),
});
const refreshBody = z.object({ token: z.string().min(1).max(8192) });

/** Legacy SSO (SPEC): authenticate → IdP → ACS → token on the resource URL; refresh. */
export interface LegacyRouteDependencies {
  legacy: LegacyLoginService;
  rateLimits: RateLimits;
  /** Features that share the ACS (the console's test sign-in) registered their RelayStates with the broker. */
  relayStates: RelayStateHandlers;
}

export const legacyRoutes =
  (services: LegacyRouteDependencies): RouteModule =>
  (app) => {
    const { legacy, rateLimits } = services;
    app.post('/v1/Accounts/:accountSid/authenticate', rateLimits.route('login'), async (c) => {
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const body = await readJson(c, authenticateBody);
      if (body.products && !body.products.includes('flex')) throw new InvalidParameterError('products must include "flex".');
      // SPEC: an untrusted resource answers 400 {code: 70002}; broken SSO settings 403 {code: 70251}.
      return c.json({ location: await legacy.authenticate(accountSid, body.resource) });
    });

    app.post('/v1/Accounts/:accountSid/saml2', rateLimits.route('login'), async (c) => {
      c.set('browserFacing', true);
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const form = await readSamlPost(c, readBodyBytes);
      const samlResponse = form.SAMLResponse;
      const relayState = form.RelayState !== '' ? form.RelayState : undefined;
      const registered = await services.relayStates.answer(
        c,
        { serviceProvider: 'legacy', sid: accountSid },
        samlResponse ? { samlResponse } : undefined,
        relayState,
      );
      if (registered) return registered;
      const outcome = await legacy.complete(accountSid, samlResponse, relayState);
      // The token travels on the URL (legacy contract): forbid the Referer from carrying it on.
      c.header('Referrer-Policy', 'no-referrer');
      c.header('Cache-Control', 'no-store');
      return c.redirect(outcome.redirectTo, 303);
    });

    app.get('/v1/Accounts/:accountSid/saml2/metadata', async (c) => {
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const xml = await legacy.metadataFor(accountSid);
      c.header('Content-Type', 'application/samlmetadata+xml');
      return c.body(xml);
    });

    app.post('/v1/Accounts/:accountSid/Tokens/refresh', rateLimits.route('token'), async (c) => {
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const { token } = await readJson(c, refreshBody);
      const issued = await legacy.refresh(accountSid, token);
      c.header('Cache-Control', 'no-store');
      return c.json({
        token: issued.accessToken,
        expiration: new Date(issued.accessTokenExpiresAt).toISOString(),
        identity: issued.user.identity,
        roles: issued.user.roles,
        session_expires_at: new Date(issued.session.maxExpiresAt).toISOString(),
      });
    });
  };
