import type { Context } from 'hono';
import { z } from 'zod';
import { exactRedirectMatch } from '../../accounts/trusted-urls.ts';
import type { ClientRegistry } from '../../clients/client-registry.ts';
import { InvalidParameterError, InvalidTokenError, UnregisteredRedirectUriError } from '../../errors.ts';
import type { RouteModule } from '../../http/app-types.ts';
import { readForm } from '../../http/request-body.ts';
import type { AccessTokens } from '../../tokens/access-tokens.ts';
import type { TokenService } from '../../tokens/token-service.ts';
import { optionalParameter, parseOAuthParameters } from './oauth-request.ts';

/** RP-Initiated Logout 1.0 §2: all optional; `post_logout_redirect_uri` must be the client's, exactly. */
const LogoutRequest = z.object({
  id_token_hint: optionalParameter,
  client_id: optionalParameter,
  post_logout_redirect_uri: optionalParameter,
  state: optionalParameter,
});

export interface LogoutEndpointDependencies {
  clients: ClientRegistry;
  accessTokens: AccessTokens;
  tokens: TokenService;
}

const SIGNED_OUT_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><main><h1>You are signed out</h1><p>You can close this window.</p></main></body></html>';

/**
 * RP-Initiated Logout 1.0, GET and POST (§2: the OP must accept both). Browser-facing: errors
 * are an HTML page. With a valid `id_token_hint` the hinted session ends; then a redirect to
 * the registered `post_logout_redirect_uri` (with `state`), or a "signed out" page.
 * No rate-limit group (a browser navigation, as before).
 */
export const logoutEndpoint =
  ({ clients, accessTokens, tokens }: LogoutEndpointDependencies): RouteModule =>
  (app) => {
    const logout = async (c: Context) => {
      c.set('browserFacing', true);
      const q = parseOAuthParameters(LogoutRequest, c.req.method === 'POST' ? await readForm(c) : c.req.query());
      const hint = q.id_token_hint ? await accessTokens.verifyIdTokenHint(q.id_token_hint) : undefined;
      if (hint && q.client_id !== undefined && q.client_id !== hint.aud)
        throw new InvalidParameterError('client_id is not the audience of id_token_hint.');
      const clientId = hint?.aud ?? q.client_id;
      const client = clientId ? await clients.find(clientId) : undefined;
      // Access tokens verify against the same keys, but their audience is an account, not a client.
      if (hint && !client) throw new InvalidTokenError('id_token_hint is not an ID token issued to a client of this server.');
      if (q.post_logout_redirect_uri !== undefined && (!client || !exactRedirectMatch(q.post_logout_redirect_uri, client.redirectUris))) {
        throw new UnregisteredRedirectUriError('post_logout_redirect_uri', client?.clientId);
      }
      if (hint) await tokens.endSessionForIdToken(hint);
      if (q.post_logout_redirect_uri) {
        const back = new URL(q.post_logout_redirect_uri);
        if (q.state) back.searchParams.set('state', q.state);
        return c.redirect(back.toString(), 302);
      }
      return c.html(SIGNED_OUT_PAGE);
    };
    app.get('/oauth2/logout', logout);
    app.post('/oauth2/logout', logout);
  };
