import type { AuditLog } from '../audit/audit-log.ts';
import type { TokenService } from '../tokens/token-service.ts';
import type { Metrics } from './metrics.ts';

/**
 * Subscribes the metrics to the facts where they are already decided, once: every sign-in outcome
 * passes through the audit log, and every grant through the token core, whichever surface called
 * it. Called by the composition root; the services know nothing of metrics.
 */
export function meter(metrics: Metrics, sources: { tokens: Pick<TokenService, 'events'>; audit: Pick<AuditLog, 'events'> }): void {
  sources.audit.events.on('event', (event) => {
    if (event.type !== 'login.succeeded' && event.type !== 'login.failed') return;
    const outcome = event.type === 'login.succeeded' ? 'succeeded' : 'failed';
    metrics.logins.inc({ surface: event.surface ?? 'unknown', outcome });
    if (outcome === 'failed') metrics.loginFailures.inc({ reason: String(event.code ?? 'unknown') });
  });
  sources.tokens.events.on('grant', ({ grant, issued, code }) => {
    metrics.tokenGrants.inc({ grant, outcome: issued ? 'issued' : code === null ? 'error' : String(code) });
  });
}
