import type { LanyardConfig } from '../../config.ts';
import type { RouteModule } from '../../http/app-types.ts';
import { cors } from '../../http/cors.ts';
import { discoveryDocument } from '../discovery.ts';

/**
 * OpenID Connect Discovery 1.0 §4 and RFC 8414 §3: the metadata document, public (any origin,
 * cacheable five minutes), at both well-known paths. No parameters, no rate-limit group.
 */
export const discoveryEndpoint =
  ({ config }: { config: Pick<LanyardConfig, 'publicUrl'> }): RouteModule =>
  (app) => {
    const discovery = discoveryDocument(config.publicUrl);
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      app.use(path, cors('*'));
      app.get(path, (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
    }
  };
