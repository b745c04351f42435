import type { AuditLog } from '../audit/audit-log.ts';

/** Who made a change, for the audit log: an admin API key (directly or through the console) or the local CLI. */
export interface Actor {
  surface: 'admin-api' | 'console' | 'cli';
  name: string;
}

/** Records one administrative change (`admin.change`), attributed to its actor, in the audit log. */
export async function recordAdminChange(
  audit: AuditLog,
  actor: Actor,
  accountSid: string | null,
  change: string,
  about: { connectionSid?: string | null; userSid?: string | null } = {},
): Promise<void> {
  await audit.record({
    type: 'admin.change',
    accountSid,
    connectionSid: about.connectionSid ?? null,
    userSid: about.userSid ?? null,
    uniqueId: null,
    surface: actor.surface,
    code: null,
    reason: `${actor.name}: ${change}`,
  });
}
