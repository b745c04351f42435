import { z } from 'zod';
import type { AccountService } from '../accounts/account-service.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { Logger } from '../http/logger.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { LoginService } from '../login/login-service.ts';
import type { TokenService } from '../tokens/token-service.ts';
import { cors } from '../http/cors.ts';
import { readForm, readJson } from '../http/request-body.ts';
import { requireSid } from '../ids.ts';
import { AuthenticationError, LanyardError } from '../errors.ts';
import { basicCredentials } from '../http/basic-credentials.ts';
import { flexTokenResponse } from './token-response.ts';
import { asDesktopTokenError, exchangeForm } from './form-exchange.ts';
import { lookup, LOOKUP_CACHE_CONTROL, LOOKUP_PATH, lookupQuery } from './lookup.ts';
import { setResponseHeader } from '../http/response-headers.ts';
import { requestHeader } from '../http/request-headers.ts';

const tokenRequest = z.discriminatedUnion(
  'grant_type',
  [
    z.object({
      grant_type: z.literal('AuthorizationCode'),
      app_type: z.literal('SinglePageApp').optional(),
      sso_profile_sid: z.string(),
      code: z.string().min(1).max(512),
      code_verifier: z.string().min(1).max(256),
      nonce: z.string().max(1024).optional(),
    }),
    z.object({
      grant_type: z.literal('RefreshToken'),
      app_type: z.literal('SinglePageApp').optional(),
      refresh_token: z.string().min(1).max(512),
      sso_profile_sid: z.string(),
    }),
  ],
  { error: 'grant_type must be "AuthorizationCode" or "RefreshToken"' },
);

const validateRequest = z.object({ token: z.string().min(1).max(8192) });

/** The Flex wire surface (SPEC): lookup, authorize, tokens, validation. Its ACS and SP metadata are the broker's (login/routes.ts). */
export interface FlexRouteDependencies {
  accounts: AccountService;
  login: LoginService;
  tokens: TokenService;
  logger: Logger;
  rateLimits: RateLimits;
}

export const flexRoutes =
  (services: FlexRouteDependencies): RouteModule =>
  (app) => {
    const { accounts, login, tokens, logger, rateLimits } = services;
    const desktops = cors((origin) => accounts.isTrustedOrigin(origin));
    app.use(LOOKUP_PATH, cors('*'));
    app.use('/v1/Flex/OAuth/Tokens', desktops);
    app.use('/v1/Accounts/:accountSid/authenticate', desktops);
    app.use('/v1/Accounts/:accountSid/Tokens/refresh', desktops);
    app.get(LOOKUP_PATH, async (c) => {
      setResponseHeader(c, 'Cache-Control', LOOKUP_CACHE_CONTROL);
      return c.json({ config_list: await lookup(accounts, lookupQuery(c.req.query())) });
    });

    app.get('/v1/Flex/Authorize', rateLimits.route('login'), async (c) => {
      c.set('browserFacing', true);
      const q = c.req.query();
      const idpUrl = await login.begin({
        surface: 'flex',
        connectionSid: q.ssoProfileSid ?? '',
        clientId: q.clientId,
        redirectUrl: q.redirectUrl ?? '',
        state: q.state ?? '',
        nonce: q.nonce,
        codeChallenge: q.codeChallenge ?? '',
        codeChallengeMethod: q.codeChallengeMethod,
      });
      return c.redirect(idpUrl, 302);
    });

    app.post('/v1/Flex/OAuth/Tokens', rateLimits.route('token'), async (c) => {
      setResponseHeader(c, 'Cache-Control', 'no-store');
      try {
        if ((requestHeader(c, 'content-type') ?? '').includes('application/x-www-form-urlencoded')) {
          return c.json(await exchangeForm(services, await readForm(c)));
        }
        const body = await readJson(c, tokenRequest);
        const connectionSid = requireSid('connection', body.sso_profile_sid, 'sso_profile_sid');
        const issued =
          body.grant_type === 'AuthorizationCode'
            ? await tokens.exchangeCode({ code: body.code, codeVerifier: body.code_verifier, surface: 'flex', connectionSid, nonce: body.nonce })
            : await tokens.refresh({ refreshToken: body.refresh_token, surface: 'flex', connectionSid });
        return c.json(flexTokenResponse(issued));
      } catch (error) {
        throw asDesktopTokenError(error);
      }
    });

    app.post('/v1/Accounts/:accountSid/Tokens/validate', rateLimits.route('token'), async (c) => {
      const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
      const { username, password } = basicCredentials(c, 'the account SID and an auth token of this account');
      const account = username === accountSid ? await accounts.authenticate(accountSid, password) : undefined;
      if (!account)
        throw new AuthenticationError(
          'Send the account SID and an auth token of this account with HTTP Basic authentication (the token `lanyard accounts create` showed, or a new one from `lanyard accounts rotate-auth-token AC…`, which replaces it).',
        );
      const { token } = await readJson(c, validateRequest);
      try {
        const { claims } = await tokens.verifyAccessTokenFor('desktop', token, { accountSid, account });
        return c.json({
          valid: true,
          code: 0,
          message: null,
          expiration: new Date(claims.exp * 1000).toISOString(),
          realm_user_id: claims.name_id,
          identity: claims.identity,
          roles: claims.roles,
          worker_sid: claims.worker_sid,
        });
      } catch (error) {
        if (!(error instanceof LanyardError) || error.status !== 401) throw error;
        logger.info('token validation refused', { accountSid, reason: error.message });
        return c.json({
          valid: false,
          code: error.code,
          message: error.message,
          expiration: null,
          realm_user_id: null,
          identity: null,
          roles: [],
          worker_sid: null,
        });
      }
    });
  };
