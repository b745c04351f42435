import type { Context } from 'hono';
import { z } from 'zod';
import { exactRedirectMatch } from '../../accounts/trusted-urls.ts';
import { InvalidParameterError, LanyardError, UnregisteredRedirectUriError, oauthDescription } from '../../errors.ts';
import type { RouteModule } from '../../http/app-types.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { readFormParams } from '../../http/request-body.ts';
import type { ClientRegistry } from '../../clients/client-registry.ts';
import type { LanyardConfig } from '../../config.ts';
import type { LoginService } from '../../login/login-service.ts';
import type { AccessTokens } from '../../tokens/access-tokens.ts';
import { SCOPES_SUPPORTED } from '../discovery.ts';
import { oauthError, optionalParameter, parseOAuthParameters } from './oauth-request.ts';

/** What the authorization endpoint uses: the client registry, the login broker, ID token hints. */
export interface AuthorizeDependencies {
  clients: ClientRegistry;
  login: LoginService;
  accessTokens: AccessTokens;
  config: Pick<LanyardConfig, 'publicUrl'>;
}

/**
 * The authorization endpoint, GET and POST, in the `login` rate-limit group (each request
 * starts a sign-in at the identity provider).
 */
export const authorizeEndpoint =
  (services: AuthorizeDependencies & { rateLimits: RateLimits }): RouteModule =>
  (app) => {
    app.get('/oauth2/authorize', services.rateLimits.route('login'), (c) => authorizationEndpoint(c, services));
    app.post('/oauth2/authorize', services.rateLimits.route('login'), (c) => authorizationEndpoint(c, services));
  };

/** RFC 6749 §3.1: request parameters must not be repeated (which copy would we honour?). */
const SINGLE_VALUED = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'connection',
  'prompt',
  'response_mode',
  'id_token_hint',
  'max_age',
];

/**
 * The parameters the authorization endpoint reads (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID
 * Connect Core §3.1.2.1); all optional here: which are required, and how a missing one is
 * answered (an HTML page before the redirect URI is verified, a redirect after), is the
 * endpoint's order of checks below. `request` and `request_uri` are read only to refuse them.
 */
const AuthorizationRequest = z.object({
  response_type: optionalParameter,
  client_id: optionalParameter,
  redirect_uri: optionalParameter,
  scope: optionalParameter,
  state: optionalParameter,
  nonce: optionalParameter,
  code_challenge: optionalParameter,
  code_challenge_method: optionalParameter,
  connection: optionalParameter,
  prompt: optionalParameter,
  response_mode: optionalParameter,
  id_token_hint: optionalParameter,
  max_age: optionalParameter,
  request: optionalParameter,
  request_uri: optionalParameter,
});
type AuthorizationRequest = z.infer<typeof AuthorizationRequest>;

/**
 * The authorization endpoint, GET or POST (OpenID Connect Core §3.1.2.1: a POST carries the
 * same parameters form-encoded). Until client and redirect URI are verified, errors are an HTML
 * page; after, they go back to the client with `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207).
 */
async function authorizationEndpoint(c: Context, services: AuthorizeDependencies): Promise<Response> {
  const { clients, login, config } = services;
  c.set('browserFacing', true);
  const all = c.req.method === 'POST' ? await readFormParams(c) : new URL(c.req.url).searchParams;
  const repeated = SINGLE_VALUED.find((name) => all.getAll(name).length > 1);
  // `repeated` is one of SINGLE_VALUED (our own names), never the client's text.
  if (repeated) throw new InvalidParameterError(`${repeated} must not be repeated.`);
  const params: Record<string, string> = Object.create(null);
  for (const [name, value] of all) params[name] = value;
  const q = parseOAuthParameters(AuthorizationRequest, params);

  const clientId = q.client_id;
  const client = clientId ? await clients.find(clientId) : undefined;
  if (!client) throw new InvalidParameterError('client_id is missing or unknown.');
  const redirectUri = q.redirect_uri;
  if (!redirectUri) throw new InvalidParameterError('redirect_uri is required.');
  if (!exactRedirectMatch(redirectUri, client.redirectUris)) throw new UnregisteredRedirectUriError('redirect_uri', client.clientId);
  try {
    if (q.request !== undefined) throw oauthError('request_not_supported', 'Request objects are not supported.');
    if (q.request_uri !== undefined) throw oauthError('request_uri_not_supported', 'request_uri is not supported.');
    if (q.response_type !== 'code') throw oauthError('unsupported_response_type', 'Only response_type code is supported.');
    const responseMode = q.response_mode;
    if (responseMode !== undefined && responseMode !== 'query') throw oauthError('invalid_request', 'Only response_mode query is supported.');
    const connection = q.connection;
    if (connection !== undefined && connection !== client.connectionSid)
      throw oauthError('invalid_request', 'connection does not belong to this client.');
    await checkPrompt(q, services);
    const idpUrl = await login.begin({
      surface: 'oidc',
      connectionSid: client.connectionSid,
      clientId: client.clientId,
      client: { clientId: client.clientId, redirectUris: client.redirectUris },
      redirectUrl: redirectUri,
      state: q.state ?? '',
      nonce: q.nonce,
      codeChallenge: q.code_challenge ?? '',
      codeChallengeMethod: q.code_challenge_method ?? (q.code_challenge !== undefined ? 'plain' : undefined), // RFC 7636 §4.3: absent means plain
      scope: grantedScope(q.scope),
      prompt: q.prompt,
      maxAge: q.max_age,
    });
    return c.redirect(idpUrl, 302);
  } catch (error) {
    // The redirect URI is verified: from here on the client hears of the failure (RFC 6749 §4.1.2.1).
    if (!(error instanceof LanyardError) || error.status >= 500) throw error;
    const back = new URL(redirectUri);
    back.searchParams.set('error', error.oauthError);
    back.searchParams.set('error_description', oauthDescription(error.message));
    const state = q.state;
    if (state) back.searchParams.set('state', state);
    back.searchParams.set('iss', config.publicUrl); // RFC 9207
    return c.redirect(back.toString(), 302);
  }
}

/**
 * Lanyard keeps no browser session of its own: every sign-in is the identity provider's, on its
 * page. So `prompt=none` can never be answered without a page (`login_required`, OpenID Connect
 * Core §3.1.2.6), whatever the `id_token_hint`; a hint that we did not issue is refused first.
 */
async function checkPrompt(q: AuthorizationRequest, { accessTokens }: AuthorizeDependencies): Promise<void> {
  const prompt = (q.prompt ?? '').split(' ').filter(Boolean);
  if (prompt.includes('none') && prompt.length > 1) throw oauthError('invalid_request', 'prompt none cannot be combined with other prompt values.');
  const hint = q.id_token_hint;
  if (hint !== undefined) {
    try {
      await accessTokens.verifyIdTokenHint(hint);
    } catch {
      throw oauthError('invalid_request', 'id_token_hint is not an ID token issued by this server.');
    }
  }
  if (prompt.includes('none'))
    throw oauthError('login_required', 'prompt none cannot be satisfied: Lanyard keeps no session; sign-in always shows the identity provider.');
}

/** The requested scopes we support, in request order; `openid` when none was asked for. */
export function grantedScope(requested: string | undefined): string {
  const supported: readonly string[] = SCOPES_SUPPORTED;
  const granted = [...new Set((requested ?? 'openid').split(' ').filter((s) => supported.includes(s)))];
  if (granted.length === 0) throw oauthError('invalid_scope', `None of the requested scopes is supported; use ${SCOPES_SUPPORTED.join(', ')}.`);
  return granted.join(' ');
}
