import { z } from 'zod';
import { InvalidParameterError, LanyardError } from '../errors.ts';
import { parseWith } from '../http/request-body.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { TokenService } from '../tokens/token-service.ts';

/**
 * The real Flex UI's "Twilio-hosted" code exchange (SPEC "Enhanced SSO" step 4): on `localhost`
 * without `oauth.redirectUrl` it posts a form `AuthCode, CodeVerifier, ClientId, RedirectUrl,
 * Nonce` and keeps the answer as its token payload as it is (`token, expiration, identity, roles,
 * flexUserSid`), then refreshes that token the legacy way (`Tokens/refresh`).
 *
 * Same rules as the JSON exchange: single-use code, PKCE S256, the code's client and nonce.
 * `RedirectUrl` is not compared: the real client sends its service callback there
 * (`oauth.serviceRedirectUrl`, by default Twilio's), never the page the code was issued to.
 */
const formExchange = z.object({
  AuthCode: z.string().min(1).max(512),
  CodeVerifier: z.string().min(1).max(256),
  ClientId: z.string().min(1).max(256),
  RedirectUrl: z.string().max(2048).optional(),
  Nonce: z.string().max(1024).optional(),
});

export async function exchangeForm(services: { accounts: AccountService; tokens: TokenService }, form: Record<string, string>) {
  const body = parseWith(formExchange, form);
  const connection = await services.accounts.findConnectionByClientId(body.ClientId);
  if (!connection) throw new InvalidParameterError('ClientId does not name a connection: copy client_id from the public lookup (oauth.clientId).');
  const issued = await services.tokens.exchangeCode({
    code: body.AuthCode,
    codeVerifier: body.CodeVerifier,
    surface: 'flex',
    connectionSid: connection.sid,
    clientId: body.ClientId,
    nonce: body.Nonce,
  });
  return {
    token: issued.accessToken,
    expiration: new Date(issued.accessTokenExpiresAt).toISOString(),
    identity: issued.user.identity,
    roles: issued.user.roles,
    flexUserSid: issued.user.sid,
    accountSid: issued.account.sid,
    session_expires_at: new Date(issued.session.maxExpiresAt).toISOString(),
  };
}

/**
 * The real client explains token-endpoint failures to the agent only for 45002 (authentication),
 * 45004 (request validation) and 45050 (missing attributes); any other code reads "contact your
 * administrator". Where the meaning matches, the Flex token endpoint answers with those codes.
 * 45210 (end of shift) keeps its own code: Lanyard's SDK signs out on it.
 */
export function asDesktopTokenError(error: unknown): unknown {
  if (!(error instanceof LanyardError)) return error;
  if (error.code === 45200) return new LanyardError({ code: 45002, status: error.status, message: error.message, oauthError: error.oauthError });
  if (error.code === 20001) return new LanyardError({ code: 45004, status: error.status, message: error.message, oauthError: error.oauthError });
  return error;
}
