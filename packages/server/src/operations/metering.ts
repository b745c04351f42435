import { AuditLog, type AuditEvent } from '../audit/audit-log.ts';
import { LanyardError } from '../errors.ts';
import { TokenService, type CodeExchange, type RefreshRequest } from '../tokens/token-service.ts';
import type { IssuedTokens } from '../tokens/model.ts';
import type { Metrics } from './metrics.ts';

/**
 * Metrics are counted where the facts are already decided, once: every sign-in outcome passes
 * through the audit log, and every grant through the token core, whichever surface called it.
 */
export class MeteredAuditLog extends AuditLog {
  constructor(
    storage: ConstructorParameters<typeof AuditLog>[0],
    private readonly metrics: Metrics,
  ) {
    super(storage);
  }

  override async record(event: Omit<AuditEvent, 'at'> & { at?: number }): Promise<void> {
    if (event.type === 'login.succeeded' || event.type === 'login.failed') {
      const outcome = event.type === 'login.succeeded' ? 'succeeded' : 'failed';
      this.metrics.logins.inc({ surface: event.surface ?? 'unknown', outcome });
      if (outcome === 'failed') this.metrics.loginFailures.inc({ reason: String(event.code ?? 'unknown') });
    }
    return super.record(event);
  }
}

export class MeteredTokenService extends TokenService {
  private metrics!: Metrics;

  static create(metrics: Metrics, ...args: ConstructorParameters<typeof TokenService>): MeteredTokenService {
    const service = new MeteredTokenService(...args);
    service.metrics = metrics;
    return service;
  }

  override exchangeCode(request: CodeExchange): Promise<IssuedTokens> {
    return this.count('authorization_code', () => super.exchangeCode(request));
  }

  override refresh(request: RefreshRequest): Promise<IssuedTokens> {
    return this.count('refresh_token', () => super.refresh(request));
  }

  private async count(grant: string, work: () => Promise<IssuedTokens>): Promise<IssuedTokens> {
    try {
      const issued = await work();
      this.metrics.tokenGrants.inc({ grant, outcome: 'issued' });
      return issued;
    } catch (error) {
      this.metrics.tokenGrants.inc({ grant, outcome: error instanceof LanyardError ? String(error.code) : 'error' });
      throw error;
    }
  }
}
