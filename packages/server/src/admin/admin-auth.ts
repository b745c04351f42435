import type { MiddlewareHandler } from 'hono';
import { authenticateConsoleCall, type ConsoleSessions } from '../console/console-sessions.ts';
import { AuthenticationError } from '../errors.ts';
import type { AdminKey, AdminKeys } from './admin-keys.ts';

export interface AdminVariables {
  adminKey: AdminKey;
  /** True when the call came from the console (session cookie + CSRF token), not a bare key. */
  viaConsole: boolean;
}

/** Paths under the admin prefix anyone may read: the API description holds no secrets. */
const PUBLIC_PATHS = new Set(['/admin/v1/openapi.json']);

/**
 * `Authorization: Bearer lk_…` on every admin request, or the console's session cookie together
 * with that session's X-CSRF-Token. A missing and a wrong key get the same 401 status (with
 * different messages: neither reveals anything about existing keys).
 */
export function adminAuthentication(adminKeys: AdminKeys, consoleSessions: ConsoleSessions): MiddlewareHandler<{ Variables: AdminVariables }> {
  return async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next();
    c.header('Cache-Control', 'no-store');
    const header = c.req.header('authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      const viaConsole = header === undefined ? await authenticateConsoleCall(c, consoleSessions) : undefined;
      if (viaConsole) {
        c.set('adminKey', viaConsole.session.adminKey);
        c.set('viaConsole', true);
        return next();
      }
      c.header('WWW-Authenticate', 'Bearer realm="lanyard-admin"');
      throw new AuthenticationError(
        'The admin API needs an admin API key: send "Authorization: Bearer lk_…" (create one with `lanyard admin-key create`).',
      );
    }
    const key = await adminKeys.verify(match[1]!);
    if (!key) {
      c.header('WWW-Authenticate', 'Bearer realm="lanyard-admin", error="invalid_token"');
      throw new AuthenticationError('The admin API key is not valid: it is malformed, unknown or revoked.');
    }
    c.set('adminKey', key);
    c.set('viaConsole', false);
    return next();
  };
}
