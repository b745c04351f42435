import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminKeys } from '../admin/admin-keys.ts';
import { sha256 } from '../crypto/random.ts';
import { LanyardError } from '../errors.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import { authenticateConsoleCall, CONSOLE_SESSION_TTL_MS, ConsoleSessions } from './console-sessions.ts';

describe('ConsoleSessions', () => {
  let storage: SqliteStorage;
  let keys: AdminKeys;
  let sessions: ConsoleSessions;
  beforeEach(() => {
    storage = new SqliteStorage(':memory:');
    keys = new AdminKeys(storage);
    sessions = new ConsoleSessions(storage, keys);
  });
  afterEach(() => storage.close());

  it('exchanges a valid admin key for a session stored only as a hash', async () => {
    const { key, secret } = await keys.create('ops');
    const { sessionId, session } = await sessions.create(secret);
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.adminKey.sid).toBe(key.sid);
    const [stored] = await storage.list('console_session');
    expect(stored!.id).toBe(sha256(sessionId));
    expect(JSON.stringify(stored)).not.toContain(sessionId);
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect((await sessions.find(sessionId))?.csrfToken).toBe(session.csrfToken);
    await expect(sessions.create(secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A'))).rejects.toMatchObject({ status: 401 });
  });

  it('ends sessions after 8 hours, at sign-out, and when their key is revoked', async () => {
    const { key, secret } = await keys.create('ops');
    const old = await sessions.create(secret, Date.now() - CONSOLE_SESSION_TTL_MS - 1000);
    expect(await sessions.find(old.sessionId)).toBeUndefined();

    const signedOut = await sessions.create(secret);
    await sessions.destroy(signedOut.sessionId);
    expect(await sessions.find(signedOut.sessionId)).toBeUndefined();

    const live = await sessions.create(secret);
    await keys.revoke(key.sid);
    expect(await sessions.find(live.sessionId)).toBeUndefined();
    expect(await storage.find('console_session', sha256(live.sessionId))).toBeUndefined();
    expect(await sessions.find('not a session id')).toBeUndefined();
  });

  it('accepts a console call only with the session cookie and its own CSRF token', async () => {
    const { secret } = await keys.create('ops');
    const one = await sessions.create(secret);
    const two = await sessions.create(secret);
    const app = new Hono();
    app.get('/', async (c) => c.text((await authenticateConsoleCall(c, sessions))?.session.adminKey.name ?? 'no cookie'));
    app.onError((error, c) => c.text(error.message, (error as LanyardError).status as 401));
    const call = (cookie?: string, token?: string) =>
      app.request('/', { headers: { ...(cookie ? { cookie: `lanyard_console=${cookie}` } : {}), ...(token ? { 'X-CSRF-Token': token } : {}) } });

    expect(await (await call()).text()).toBe('no cookie');
    expect((await call(one.sessionId)).status).toBe(403);
    expect((await call(one.sessionId, 'wrong')).status).toBe(403);
    // A token is bound to its session: another session's token does not do.
    expect((await call(one.sessionId, two.session.csrfToken)).status).toBe(403);
    expect(await (await call(one.sessionId, one.session.csrfToken)).text()).toBe('ops');
    expect((await call('A'.repeat(43), one.session.csrfToken)).status).toBe(401);
  });
});
