import { randomIdBytes } from '../crypto/random.ts';
import { EventEmitter } from 'node:events';
import type { Storage } from '../storage/port.ts';

export type AuditEventType = 'login.succeeded' | 'login.failed' | 'token.refresh_reuse' | 'code.replayed' | 'admin.change';

export interface AuditEvent {
  type: AuditEventType;
  accountSid: string | null;
  connectionSid: string | null;
  userSid: string | null;
  uniqueId: string | null;
  surface: string | null;
  /** Error code and message for failures, in words an administrator can act on. */
  code: number | null;
  reason: string | null;
  at: number;
}

const KIND = 'audit';
const RETENTION_MS = 90 * 86_400_000;

/** Recent sign-ins and failures per account (the console's audit view). Kept 90 days. */
export class AuditLog {
  /**
   * Emits `event` for every event recorded, before it is written: a sign-in outcome counts even
   * if the audit write fails. Subscribers (metrics) are wired in the composition root; they must
   * not throw.
   */
  readonly events: EventEmitter<{ event: [AuditEvent] }>;

  constructor(
    private readonly storage: Storage,
    events?: EventEmitter<{ event: [AuditEvent] }>,
  ) {
    this.events = events ?? new EventEmitter();
  }

  /** The same log writing through a transaction (its events go to the same subscribers). */
  within(tx: Storage): AuditLog {
    return new AuditLog(tx, this.events);
  }

  async record(event: Omit<AuditEvent, 'at'> & { at?: number }): Promise<void> {
    const at = event.at ?? Date.now();
    this.events.emit('event', { ...event, at });
    const id = `${at.toString(36)}-${randomIdBytes(6).toString('hex')}`;
    await this.storage.insert({
      kind: KIND,
      id,
      accountSid: event.accountSid,
      payload: { ...event, at },
      createdAt: at,
      expiresAt: at + RETENTION_MS,
    });
  }

  async recent(accountSid: string, limit = 50): Promise<AuditEvent[]> {
    return (await this.storage.list<AuditEvent>(KIND, { accountSid, newestFirst: true, limit })).map((r) => r.payload);
  }
}
