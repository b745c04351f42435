import type { EventEmitter } from 'node:events';
import { LanyardError } from '../errors.ts';

/** The grant types of the token endpoint (RFC 6749 §4.1.3, §6), whichever surface called it. */
export type GrantType = 'authorization_code' | 'refresh_token';

/**
 * One token endpoint grant, decided: issued, or refused with the Lanyard error code that refused
 * it (`null` for an unexpected failure). Carries no token, code or user: only what may be counted.
 */
export interface GrantEvent {
  grant: GrantType;
  issued: boolean;
  code: number | null;
}

/**
 * A replayed credential the token core caught and answered by revoking a session, once the
 * revocation is committed: a refresh token presented again after the grace window, or after its
 * successor was used (RFC 9700 §4.14.2), or an authorization code exchanged twice (RFC 6749 §4.1.2). Names whose session it
 * was; carries no token or code.
 */
export interface ReplayEvent {
  type: 'token.refresh_reuse' | 'code.replayed';
  sessionId: string;
  surface: string;
  accountSid: string;
  connectionSid: string;
  userSid: string;
}

/** What the token core announces; subscribers (metrics, the audit log) are wired in the composition root. */
export interface TokenEvents {
  grant: [GrantEvent];
  replay: [ReplayEvent];
}

export type TokenEventEmitter = EventEmitter<TokenEvents>;

/** Awaits a grant and emits its outcome, issued or refused, passing the result or error through. */
export async function announceGrant<T>(events: TokenEventEmitter, grant: GrantType, work: Promise<T>): Promise<T> {
  try {
    const issued = await work;
    events.emit('grant', { grant, issued: true, code: null });
    return issued;
  } catch (error) {
    events.emit('grant', { grant, issued: false, code: error instanceof LanyardError ? error.code : null });
    throw error;
  }
}
