import type { AuditLog } from '../audit/audit-log.ts';
import type { Logger } from '../http/logger.ts';
import type { TokenService } from '../tokens/token-service.ts';

/**
 * Makes every replayed credential the token core caught (a refresh token reused after the grace
 * window or after its successor was used, an authorization code exchanged twice: `ReplayEvent`) an audit event of the account
 * (`token.refresh_reuse`, `code.replayed`: the console's audit view and the admin API) and a
 * `warn` log line: each revoked a session, and either may be a stolen credential. Called once by
 * the composition root. An audit write that fails is logged, never thrown.
 */
export function auditReplays(sources: { tokens: Pick<TokenService, 'events'>; audit: Pick<AuditLog, 'record'> }, logger: Logger): void {
  sources.tokens.events.on('replay', (event) => {
    const what = event.type === 'token.refresh_reuse' ? 'a spent refresh token was presented again' : 'an authorization code was exchanged twice';
    logger.warn(`${what}; its session was revoked`, {
      type: event.type,
      account_sid: event.accountSid,
      connection_sid: event.connectionSid,
      user_sid: event.userSid,
      session_id: event.sessionId,
      surface: event.surface,
    });
    const reason =
      event.type === 'token.refresh_reuse'
        ? 'A spent refresh token was presented again after its grace window, or after its successor had been used, so its session was revoked (RFC 9700 §4.14.2): a client kept a spent token, or the token was copied. The agent signs in again.'
        : 'An authorization code was exchanged twice, so the session it created was revoked (RFC 6749 §4.1.2). The agent signs in again.';
    sources.audit
      .record({
        type: event.type,
        accountSid: event.accountSid,
        connectionSid: event.connectionSid,
        userSid: event.userSid,
        uniqueId: null,
        surface: event.surface,
        code: null,
        reason,
      })
      .catch((error: Error) => logger.warn('the audit log could not record a replay', { type: event.type, error: error.message }));
  });
}
