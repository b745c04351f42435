import type { AccountService } from '../accounts/account-service.ts';
import type { RouteModule } from '../http/app-types.ts';
import { cors } from '../http/cors.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { SigningKeys } from '../tokens/signing-keys.ts';
import type { TokenService } from '../tokens/token-service.ts';
import type { UserService } from '../users/user-service.ts';
import { authorizeEndpoint, type AuthorizeDependencies } from './endpoints/authorize.ts';
import { discoveryEndpoint } from './endpoints/discovery.ts';
import { introspectEndpoint } from './endpoints/introspect.ts';
import { jwksEndpoint } from './endpoints/jwks.ts';
import { logoutEndpoint } from './endpoints/logout.ts';
import { revokeEndpoint } from './endpoints/revoke.ts';
import { tokenEndpoint } from './endpoints/token.ts';
import { userinfoEndpoint } from './endpoints/userinfo.ts';
import type { IntrospectionDependencies } from './introspection.ts';

/**
 * The standard OAuth 2.0 / OpenID Connect surface over the same token core as the Flex surface:
 * public and confidential clients, PKCE S256, exact redirect URI matching, rotating refresh tokens.
 */
export interface OidcRouteDependencies extends AuthorizeDependencies, IntrospectionDependencies {
  accounts: AccountService;
  users: UserService;
  keys: SigningKeys;
  tokens: TokenService;
  rateLimits: RateLimits;
}

/**
 * Mounts one module per endpoint (`./endpoints/`), each given only what it uses. Discovery and
 * keys are public to any origin; token, userinfo and revocation answer pages on a trusted or
 * registered client's origin.
 */
export const oidcRoutes =
  (services: OidcRouteDependencies): RouteModule =>
  (app) => {
    const { accounts, clients, tokens, users, keys, accessTokens, config, storage, login, rateLimits } = services;
    const clientCors = cors(async (origin) => (await accounts.isTrustedOrigin(origin)) || (await clients.isClientOrigin(origin)));
    const endpoints: RouteModule[] = [
      discoveryEndpoint({ config }),
      jwksEndpoint({ keys }),
      authorizeEndpoint({ clients, login, accessTokens, config, rateLimits }),
      tokenEndpoint({ clients, storage, config, tokens, rateLimits, clientCors }),
      userinfoEndpoint({ tokens, users, rateLimits, clientCors }),
      revokeEndpoint({ clients, storage, config, tokens, rateLimits, clientCors }),
      introspectEndpoint({ clients, storage, config, tokens, accounts, rateLimits }),
      logoutEndpoint({ clients, accessTokens, tokens }),
    ];
    for (const mount of endpoints) mount(app);
  };
