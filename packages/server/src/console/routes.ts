import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import { AuthenticationError, InvalidParameterError } from '../errors.ts';
import type { LanyardConfig } from '../config.ts';
import type { AdminKeys } from '../admin/admin-keys.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { Logger } from '../http/logger.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { Storage } from '../storage/port.ts';
import { readJson } from '../http/request-body.ts';
import { requireSid } from '../ids.ts';
import {
  authenticateConsoleCall,
  clearSessionCookie,
  CONSOLE_COOKIE,
  ConsoleSessions,
  cookieSession,
  setSessionCookie,
  type ConsoleSession,
} from './console-sessions.ts';
import { serveConsoleFile } from './static-files.ts';
import { testReportResponse } from './test-report-page.ts';
import type { RelayStateHandlers } from '../login/relay-states.ts';
import { ConsoleTestSignIn, TEST_RELAY_STATE_PREFIX, type TestSignInDependencies } from './test-sign-in.ts';
import type { ConsoleSession as ConsoleSessionResource } from './responses.ts';

const signInBody = z.strictObject({ admin_key: z.string().min(1).max(200) });
const testBody = z.strictObject({ account_sid: z.string(), service_provider: z.enum(['enhanced', 'legacy']).optional() });

const sessionResource = (session: ConsoleSession): ConsoleSessionResource => ({
  csrf_token: session.csrfToken,
  admin_key: { sid: session.adminKey.sid, name: session.adminKey.name },
  expires_at: new Date(session.expiresAt).toISOString(),
});

/**
 * The admin console (`/console/`): its built files, sign-in and sign-out, and the test sign-in.
 * Everything else the console does goes through the admin API with the session cookie.
 */
export interface ConsoleRouteDependencies extends TestSignInDependencies {
  config: Pick<LanyardConfig, 'publicUrl' | 'loginTtlSeconds'>;
  logger: Logger;
  storage: Storage;
  adminKeys: AdminKeys;
  rateLimits: RateLimits;
  /** The broker's ACSs and OIDC callback hand the answers to test sign-ins (RelayState / state `ct_…`) back through this. */
  relayStates: RelayStateHandlers;
}

export const consoleRoutes =
  (services: ConsoleRouteDependencies): RouteModule =>
  (app) => {
    const sessions = new ConsoleSessions(services.storage, services.adminKeys);
    const tests = new ConsoleTestSignIn(services);
    // A test sign-in's answer arrives at the broker's ACS (enhanced or legacy) or OIDC callback and becomes a report page.
    services.relayStates.register(TEST_RELAY_STATE_PREFIX, async (c, at, message, testId) =>
      testReportResponse(c, await tests.complete(at, message, testId)),
    );
    const secure = services.config.publicUrl.startsWith('https:');
    const consoleCall = async (c: Context) => {
      const found = await authenticateConsoleCall(c, sessions);
      if (!found) throw new AuthenticationError('Sign in to the console first.');
      return found;
    };

    for (const path of ['/console/session', '/console/test-sign-in', '/console/test-sign-in/*']) {
      app.use(path, async (c, next) => {
        c.header('Cache-Control', 'no-store');
        await next();
      });
    }

    const limited = services.rateLimits.route('admin');
    app.post('/console/session', limited, async (c) => {
      // JSON only: a cross-site HTML form cannot send it.
      if (!(c.req.header('content-type') ?? '').startsWith('application/json')) {
        throw new InvalidParameterError('Send the admin API key as JSON: {"admin_key": "lk_…"}.');
      }
      const { admin_key: secret } = await readJson(c, signInBody);
      const { sessionId, session } = await sessions.create(secret);
      // A new session id at every sign-in (no fixation); the browser's previous session ends.
      const previous = getCookie(c, CONSOLE_COOKIE);
      if (previous) await sessions.destroy(previous);
      setSessionCookie(c, sessionId, secure);
      services.logger.info('console sign-in', { adminKeySid: session.adminKey.sid, requestId: c.get('requestId') });
      return c.json(sessionResource(session), 201);
    });

    /** The console reads its CSRF token here after a reload; another origin cannot read the answer. */
    app.get('/console/session', limited, async (c) => {
      const found = await cookieSession(c, sessions);
      if (!found) throw new AuthenticationError('Not signed in to the console.');
      return c.json(sessionResource(found.session));
    });

    app.delete('/console/session', limited, async (c) => {
      // Without the CSRF token nothing changes, the cookie included: no forced sign-out either.
      const found = await consoleCall(c);
      await sessions.destroy(found.sessionId);
      clearSessionCookie(c, secure);
      services.logger.info('console sign-out', { adminKeySid: found.session.adminKey.sid, requestId: c.get('requestId') });
      return c.body(null, 204);
    });

    app.post('/console/test-sign-in', limited, async (c) => {
      const found = await consoleCall(c);
      const body = await readJson(c, testBody);
      const accountSid = requireSid('account', body.account_sid, 'account_sid');
      return c.json(await tests.begin(accountSid, found.session.adminKey.sid, body.service_provider), 201);
    });

    app.get('/console/test-sign-in/:id', limited, async (c) => {
      const found = await consoleCall(c);
      return c.json(await tests.status(c.req.param('id'), found.session.adminKey.sid));
    });

    app.get('/console', (c) => c.redirect('/console/', 301));
    app.get('/console/*', (c) => serveConsoleFile(c, c.req.path.slice('/console/'.length)));
  };
