import type { RouteModule } from '../../http/app-types.ts';
import { cors } from '../../http/cors.ts';
import type { SigningKeys } from '../../tokens/signing-keys.ts';

/** RFC 7517 §5: the public signing keys (JWK Set), public (any origin, cacheable five minutes). */
export const jwksEndpoint =
  ({ keys }: { keys: SigningKeys }): RouteModule =>
  (app) => {
    app.use('/.well-known/jwks.json', cors('*'));
    app.get('/.well-known/jwks.json', async (c) => c.json(await keys.jwks(), 200, { 'Cache-Control': 'public, max-age=300' }));
  };
