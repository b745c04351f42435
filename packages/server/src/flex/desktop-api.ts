import type { Context } from 'hono';
import type { AccountService } from '../accounts/account-service.ts';
import type { LanyardConfig } from '../config.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { TokenService } from '../tokens/token-service.ts';
import { cors } from '../http/cors.ts';
import { readBodyText } from '../http/request-body.ts';
import { requireSid } from '../ids.ts';
import { ExpiredTokenError, InvalidParameterError, LanyardError } from '../errors.ts';
import type { AccessTokenClaims, Session } from '../tokens/model.ts';
import { setResponseHeader } from '../http/response-headers.ts';
import { requestHeader } from '../http/request-headers.ts';

/**
 * The endpoints the real Flex UI calls on its fixed hosts (SPEC "Endpoints the real client calls
 * on fixed hosts"): public configuration, configuration and token info. They reach Lanyard when
 * the desktop routes those hosts here (docs/flex-ui.md). The client clears its session on 20104
 * (expired) and 20003 (invalid) and on nothing else, so every token failure is one of the two.
 */

/** Expired token (Twilio 20104): the real client clears its session and signs in again. */
export class DesktopTokenExpiredError extends LanyardError {
  constructor() {
    super({ code: 20104, status: 401, message: 'The access token has expired; sign in again.', oauthError: 'invalid_token' });
  }
}

/** Missing, garbled, revoked or foreign token (Twilio 20003): the real client clears its session. */
export class DesktopTokenInvalidError extends LanyardError {
  constructor(detail: string) {
    super({ code: 20003, status: 401, message: `Authenticate with a valid desktop token: ${detail}`, oauthError: 'invalid_token' });
  }
}

/**
 * `Authorization: Basic base64("token:" + JWT)`. The real client appends a stray `)` after the
 * base64 (flex-sdk 3.0.0); it is tolerated, nothing else is.
 */
export function desktopTokenFrom(header: string | undefined): string {
  if (header === undefined) throw new DesktopTokenInvalidError('send Authorization: Basic base64("token:" + access token).');
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})\)?$/.exec(header.trim());
  if (!match) throw new DesktopTokenInvalidError('the Authorization header is not Basic base64("token:" + access token).');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  if (!decoded.startsWith('token:') || decoded.length === 'token:'.length) {
    throw new DesktopTokenInvalidError('the Basic user name must be "token" and the password the access token.');
  }
  return decoded.slice('token:'.length);
}

/**
 * The one check these endpoints make: a live Flex desktop token (enhanced or legacy) of this
 * account, under an SSO mode that still allows its surface (`tokens/token-scope.ts`). Tokens of
 * the standard OIDC surface are refused. Every failure becomes 20104 or 20003.
 */
export async function verifyDesktopToken(
  services: { tokens: Pick<TokenService, 'verifyAccessTokenFor'> },
  token: string,
  accountSid: string,
): Promise<{ claims: AccessTokenClaims; session: Session }> {
  try {
    // The token core's scope gate: Flex (enhanced) and legacy desktop tokens of this account only.
    return await services.tokens.verifyAccessTokenFor('desktop', token, { accountSid });
  } catch (error) {
    if (error instanceof ExpiredTokenError) throw new DesktopTokenExpiredError();
    if (error instanceof DesktopTokenInvalidError) throw error;
    if (error instanceof LanyardError && error.status === 401) throw new DesktopTokenInvalidError(error.message);
    throw error;
  }
}

async function formToken(c: Context): Promise<string | undefined> {
  const type = requestHeader(c, 'content-type') ?? '';
  if (!type.includes('application/x-www-form-urlencoded')) {
    throw new InvalidParameterError('The request body must be application/x-www-form-urlencoded (Token=<access token>).');
  }
  const form = new URLSearchParams(await readBodyText(c));
  if (form.getAll('Token').length > 1) throw new InvalidParameterError('Token must be sent once.');
  return form.get('Token') ?? undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface DesktopApiDependencies {
  accounts: AccountService;
  tokens: TokenService;
  config: Pick<LanyardConfig, 'publicUrl'>;
  rateLimits: RateLimits;
}

export const desktopApiRoutes =
  (services: DesktopApiDependencies): RouteModule =>
  (app) => {
    const { accounts, config, rateLimits } = services;
    const desktops = cors((origin) => accounts.isTrustedOrigin(origin));
    // Twilio answers a bare host here (a Serverless domain); Lanyard's own host is the honest equivalent.
    const runtimeDomain = new URL(config.publicUrl).host;
    app.use('/v1/Configuration/Public', cors('*'));
    app.use('/v1/Configuration', desktops);
    app.use('/v1/Accounts/:accountSid/Tokens/Info', desktops);

    /**
     * Only what any browser may know before sign-in. Unknown accounts get the same shape with the
     * defaults, so the answer does not tell which account SIDs exist (as the public lookup).
     */
    app.get('/v1/Configuration/Public', async (c) => {
      const accountSid = requireSid('account', c.req.query('AccountSid'), 'AccountSid');
      const account = await accounts.findAccount(accountSid);
      setResponseHeader(c, 'Cache-Control', 'public, max-age=60');
      return c.json({
        configurations: [
          {
            account_sid: accountSid,
            runtime_domain: runtimeDomain,
            public_attributes: { loginPopup: account?.loginPopup === true },
          },
        ],
      });
    });

    app.get('/v1/Configuration', rateLimits.route('token'), async (c) => {
      setResponseHeader(c, 'Cache-Control', 'no-store');
      const token = desktopTokenFrom(requestHeader(c, 'authorization'));
      const claims = await claimsOfAnyAccount(services, token);
      const account = await accounts.getAccount(claims.aud);
      return c.json({
        account_sid: account.sid,
        flex_instance_sid: account.instanceSid,
        date_created: iso(account.createdAt),
        date_updated: iso(account.createdAt),
        runtime_domain: runtimeDomain,
        status: 'ok',
        ui_version: c.req.query('UiVersion') ?? null,
        // The real client refuses to start unless the service declares its UI version compatible.
        ui_attributes: { version_compatibility: 'yes' },
        url: new URL('/v1/Configuration', config.publicUrl).toString(),
      });
    });

    app.post('/v1/Accounts/:accountSid/Tokens/Info', rateLimits.route('token'), async (c) => {
      setResponseHeader(c, 'Cache-Control', 'no-store');
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const token = desktopTokenFrom(requestHeader(c, 'authorization'));
      const described = await formToken(c);
      if (described !== undefined && described !== token)
        throw new DesktopTokenInvalidError('Token differs from the token in the Authorization header.');
      const { claims, session } = await verifyDesktopToken(services, token, accountSid);
      return c.json({
        account_sid: claims.aud,
        flex_instance_sid: claims.flex_instance_sid,
        flex_user_sid: claims.sub,
        worker_sid: claims.worker_sid,
        identity: claims.identity,
        realm_user_id: claims.name_id,
        roles: claims.roles,
        expiration: iso(claims.exp * 1000),
        session_expires_at: iso(session.maxExpiresAt),
      });
    });
  };

/** `/v1/Configuration` names no account: the token's own audience does, and is then checked like any other. */
async function claimsOfAnyAccount(services: DesktopApiDependencies, token: string): Promise<AccessTokenClaims> {
  const audience = unverifiedAudience(token);
  return (await verifyDesktopToken(services, token, audience)).claims;
}

function unverifiedAudience(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud?: unknown };
    if (typeof payload.aud === 'string') return payload.aud;
  } catch {
    // falls through: not a JWT
  }
  throw new DesktopTokenInvalidError('the token is not a well-formed JWT.');
}
