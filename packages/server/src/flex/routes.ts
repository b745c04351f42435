import { z } from 'zod';
import type { RouteModule } from '../http/app.ts';
import { cors } from '../http/cors.ts';
import { readJson } from '../http/request-body.ts';
import { requireSid } from '../ids.ts';
import { AuthenticationError, InvalidParameterError, LanyardError } from '../errors.ts';
import { serviceProviderMetadata } from '../connections/saml-connection.ts';
import { answerTestSignIn } from '../console/routes.ts';
import { enhancedServiceProvider } from '../login/service-providers.ts';
import { flexTokenResponse } from './token-response.ts';

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

/** The Flex wire surface (SPEC): lookup, authorize, ACS, tokens, validation. */
export const flexRoutes: RouteModule = (app, services) => {
  const { accounts, login, tokens, config, logger, rateLimits } = services;
  const desktops = cors((origin) => accounts.isTrustedOrigin(origin));
  app.use('/v1/Flex/Authentication/Config', cors('*'));
  app.use('/v1/Flex/OAuth/Tokens', desktops);
  app.use('/v1/Accounts/:accountSid/authenticate', desktops);
  app.use('/v1/Accounts/:accountSid/Tokens/refresh', desktops);
  app.get('/v1/Flex/Authentication/Config', async (c) => {
    const accountSid = requireSid('account', c.req.query('AccountSid'), 'AccountSid');
    c.header('Cache-Control', 'public, max-age=60');
    return c.json({ config_list: await accounts.lookupConfig(accountSid) });
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

  app.post('/login/callback', rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const connectionSid = requireSid('connection', c.req.query('connection'), 'connection');
    const body = await c.req.parseBody();
    const samlResponse = typeof body.SAMLResponse === 'string' ? body.SAMLResponse : undefined;
    const relayState = typeof body.RelayState === 'string' ? body.RelayState : undefined;
    const testReport = await answerTestSignIn(c, services, { serviceProvider: 'enhanced', sid: connectionSid }, samlResponse, relayState);
    if (testReport) return testReport;
    const outcome = await login.complete(connectionSid, samlResponse, relayState);
    return c.redirect(outcome.redirectTo, 303);
  });

  app.get('/login/metadata', (c) => {
    const connectionSid = requireSid('connection', c.req.query('connection'), 'connection');
    c.header('Content-Type', 'application/samlmetadata+xml');
    return c.body(serviceProviderMetadata(enhancedServiceProvider(config.publicUrl, connectionSid)));
  });

  app.post('/v1/Flex/OAuth/Tokens', rateLimits.route('token'), async (c) => {
    c.header('Cache-Control', 'no-store');
    const body = await readJson(c, tokenRequest);
    const connectionSid = requireSid('connection', body.sso_profile_sid, 'sso_profile_sid');
    const issued =
      body.grant_type === 'AuthorizationCode'
        ? await tokens.exchangeCode({ code: body.code, codeVerifier: body.code_verifier, surface: 'flex', connectionSid, nonce: body.nonce })
        : await tokens.refresh({ refreshToken: body.refresh_token, surface: 'flex', connectionSid });
    return c.json(flexTokenResponse(issued));
  });

  app.post('/v1/Accounts/:accountSid/Tokens/validate', rateLimits.route('token'), async (c) => {
    const accountSid = requireSid('account', c.req.param('accountSid'), 'AccountSid');
    const [user, password] = basicCredentials(c.req.header('authorization'));
    if (user !== accountSid || !(await accounts.verifyAuthToken(accountSid, password))) {
      throw new AuthenticationError('Send the account SID and an auth token of this account with HTTP Basic authentication.');
    }
    const { token } = await readJson(c, validateRequest);
    try {
      const { claims } = await tokens.verifyAccessTokenFor('desktop', token, { accountSid });
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

function basicCredentials(header: string | undefined): [string, string] {
  if (!header?.startsWith('Basic ')) throw new AuthenticationError();
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidParameterError('Malformed Basic credentials.');
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
