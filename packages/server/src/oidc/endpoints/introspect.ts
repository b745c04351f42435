import { z } from 'zod';
import type { RouteModule } from '../../http/app-types.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { readForm } from '../../http/request-body.ts';
import { InvalidClientError } from '../client-authentication.ts';
import { introspect, type IntrospectionDependencies } from '../introspection.ts';
import {
  clientAuthenticator,
  optionalParameter,
  parseOAuthParameters,
  requiredParameter,
  type ClientAuthenticationDependencies,
} from './oauth-request.ts';

/** RFC 7662 §2.1; `token_type_hint` only speeds the lookup (a wrong hint still finds the token). */
const IntrospectionRequest = z.object({
  token: requiredParameter('token is required (RFC 7662 section 2.1).'),
  token_type_hint: optionalParameter,
});

export interface IntrospectEndpointDependencies extends IntrospectionDependencies, ClientAuthenticationDependencies {
  rateLimits: RateLimits;
}

/**
 * RFC 7662 token introspection, `token` rate-limit group: resource servers ask whether a token
 * is active. Confidential clients only (a public client is `invalid_client`, 401). Server to
 * server: no CORS.
 */
export const introspectEndpoint =
  (services: IntrospectEndpointDependencies): RouteModule =>
  (app) => {
    const authenticate = clientAuthenticator(services);
    app.post('/oauth2/introspect', services.rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      c.header('Cache-Control', 'no-store');
      const form = await readForm(c);
      const client = await authenticate(c, form);
      if (client.tokenEndpointAuthMethod === 'none')
        throw new InvalidClientError('Introspection needs an authenticated client: register a confidential client (RFC 7662 section 2.1).');
      const request = parseOAuthParameters(IntrospectionRequest, form);
      return c.json(await introspect(services, client, request.token, request.token_type_hint));
    });
  };
