import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { jsonLogger } from '../http/logger.ts';
import { createServices, type Services } from '../services.ts';
import { AdminService } from './admin-service.ts';

let services: Services | undefined;
afterEach(async () => {
  await services?.storage.close();
  services = undefined;
});

async function adminOf() {
  services = await createServices(loadConfig({ LANYARD_DATABASE_URL: 'sqlite::memory:' }, { secretKey: randomBytes(32) }), {
    logger: jsonLogger('silent'),
  });
  return { services, admin: new AdminService(services, { surface: 'cli', name: 'cli (test)' }) };
}

describe('replacing an auth token', () => {
  it('records the change in the same transaction: when the audit write fails, the previous token still works and none is lost', async () => {
    const { services, admin } = await adminOf();
    const created = await admin.createAccount('Rotated');
    // The audit log cannot be written (as on a database that refuses the insert).
    const db = (services.storage as unknown as { db: Database.Database }).db;
    db.exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON records WHEN NEW.kind = 'audit' BEGIN SELECT RAISE(ABORT, 'audit refused'); END`);
    await expect(admin.rotateAuthToken(created.sid)).rejects.toThrow(/audit refused/);
    expect(await services.accounts.verifyAuthToken(created.sid, created.auth_token)).toBe(true);

    db.exec('DROP TRIGGER refuse_audit');
    const rotated = await admin.rotateAuthToken(created.sid);
    expect(await services.accounts.verifyAuthToken(created.sid, rotated.auth_token)).toBe(true);
    expect(await services.accounts.verifyAuthToken(created.sid, created.auth_token)).toBe(false);
    const changes = (await services.audit.recent(created.sid)).map((event) => event.reason);
    expect(changes.filter((reason) => reason?.includes('replaced the auth token'))).toEqual([
      'cli (test): replaced the auth token (the previous one no longer works)',
    ]);
  });
});
