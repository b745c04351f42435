import type { Context } from 'hono';
import type { AccountService } from '../accounts/account-service.ts';
import type { Connection } from '../accounts/model.ts';
import { LanyardError } from '../errors.ts';

const invalidClient = (message: string) => new LanyardError({ code: 20003, status: 401, message, oauthError: 'invalid_client' });

/**
 * The client of a token or revocation request. Every client is public (an SPA or a native app,
 * `token_endpoint_auth_method: none`): it names itself with `client_id` and PKCE binds its codes
 * to it. Credentials are refused rather than ignored, so that a client configured as
 * confidential learns that nothing is checking its secret.
 */
export async function publicClient(c: Context, accounts: AccountService, form: Record<string, string>): Promise<Connection> {
  const header = c.req.header('authorization');
  if (header !== undefined || form.client_secret !== undefined) {
    // RFC 6749 §5.2: a failed attempt at header authentication gets a challenge.
    if (header !== undefined) c.header('WWW-Authenticate', 'Basic realm="lanyard"');
    throw invalidClient('Clients are public (token_endpoint_auth_method "none"): send client_id only, no secret.');
  }
  const client = form.client_id ? await accounts.findConnectionByClientId(form.client_id) : undefined;
  if (!client) throw invalidClient('client_id is missing or unknown.');
  return client;
}
