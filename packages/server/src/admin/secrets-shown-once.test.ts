import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { jsonLogger } from '../http/logger.ts';
import { createServices, type Services } from '../services.ts';
import { AdminService } from './admin-service.ts';
import { ClientAdmin } from './client-admin.ts';

let services: Services | undefined;
afterEach(async () => {
  await services?.storage.close();
  services = undefined;
});

/** Services on an in-memory SQLite database, the admin operations as the CLI calls them, and a switch that makes every audit write fail. */
async function adminOf() {
  services = await createServices(loadConfig({ LANYARD_DATABASE_URL: 'sqlite::memory:' }, { secretKey: randomBytes(32) }), {
    logger: jsonLogger('silent'),
  });
  const actor = { surface: 'cli', name: 'cli (test)' } as const;
  const db = (services.storage as unknown as { db: Database.Database }).db;
  const refuseAudit = (refuse: boolean) =>
    db.exec(
      refuse
        ? `CREATE TRIGGER refuse_audit BEFORE INSERT ON records WHEN NEW.kind = 'audit' BEGIN SELECT RAISE(ABORT, 'audit refused'); END`
        : 'DROP TRIGGER refuse_audit',
    );
  return { services, admin: new AdminService(services, actor), clients: new ClientAdmin(services, actor), refuseAudit };
}

const changesOf = async (services: Services, accountSid: string | null) =>
  (await services.storage.list<{ reason: string | null; accountSid: string | null }>('audit', {}))
    .map((record) => record.payload)
    .filter((event) => event.accountSid === accountSid)
    .map((event) => event.reason);

// Each of these answers with a secret shown once. Recorded after the change committed, a failed
// audit write answered an error for a change that stood: the secret was lost with the answer.
describe('admin changes that show a secret once commit with their audit record, or not at all', () => {
  it("replacing an account's auth token: when the audit write fails, the previous token still works", async () => {
    const { services, admin, refuseAudit } = await adminOf();
    const created = await admin.createAccount('Rotated');
    refuseAudit(true);
    await expect(admin.rotateAuthToken(created.sid)).rejects.toThrow(/audit refused/);
    expect(await services.accounts.verifyAuthToken(created.sid, created.auth_token)).toBe(true);

    refuseAudit(false);
    const rotated = await admin.rotateAuthToken(created.sid);
    expect(await services.accounts.verifyAuthToken(created.sid, rotated.auth_token)).toBe(true);
    expect(await services.accounts.verifyAuthToken(created.sid, created.auth_token)).toBe(false);
    expect((await changesOf(services, created.sid)).filter((reason) => reason?.includes('auth token'))).toEqual([
      'cli (test): replaced the auth token (the previous one no longer works)',
    ]);
  });

  it('creating an account or an admin key: when the audit write fails, nothing is created', async () => {
    const { services, admin, refuseAudit } = await adminOf();
    refuseAudit(true);
    await expect(admin.createAccount('Never')).rejects.toThrow(/audit refused/);
    await expect(admin.createAdminKey('never')).rejects.toThrow(/audit refused/);
    expect(await services.accounts.listAccounts()).toEqual([]);
    expect(await services.adminKeys.list()).toEqual([]);

    refuseAudit(false);
    const account = await admin.createAccount('Kept');
    const key = await admin.createAdminKey('kept');
    expect(await services.accounts.verifyAuthToken(account.sid, account.auth_token)).toBe(true);
    expect(await services.adminKeys.verify(key.secret)).toMatchObject({ sid: key.sid });
    expect(await changesOf(services, account.sid)).toEqual(['cli (test): created account "Kept"']);
    expect(await changesOf(services, null)).toEqual([`cli (test): created admin key ${key.sid} "kept"`]);
  });

  it("registering a client or rotating its secret: when the audit write fails, nothing changes and the client's secret still works", async () => {
    const { services, admin, clients, refuseAudit } = await adminOf();
    const account = await admin.createAccount('Clients');
    await services.accounts.ensureConnection(account.sid);
    const body = { name: 'Portal', redirect_uris: ['https://portal.example.com/cb'] };
    refuseAudit(true);
    await expect(clients.register(account.sid, body)).rejects.toThrow(/audit refused/);
    expect(await services.clients.list(account.sid)).toEqual([]);

    refuseAudit(false);
    const registered = await clients.register(account.sid, body);
    refuseAudit(true);
    await expect(clients.rotateSecret(registered.client_id, { rollover_seconds: 0 })).rejects.toThrow(/audit refused/);
    const stored = await services.clients.get(registered.client_id);
    expect(services.clients.verifySecret(stored, registered.client_secret!)).toBe(true);
    expect(stored.secrets).toHaveLength(1);

    refuseAudit(false);
    const rotated = await clients.rotateSecret(registered.client_id, { rollover_seconds: 0 });
    const after = await services.clients.get(registered.client_id);
    expect(services.clients.verifySecret(after, rotated.client_secret)).toBe(true);
    expect(services.clients.verifySecret(after, registered.client_secret!)).toBe(false);
    expect((await changesOf(services, account.sid)).filter((reason) => reason?.includes('client'))).toEqual([
      expect.stringContaining(`registered OpenID Connect client ${registered.client_id}`),
      `cli (test): rotated the secret of client ${registered.client_id} (new secret ${rotated.secret_id})`,
    ]);
  });
});
