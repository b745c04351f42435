import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../storage/sqlite.ts';
import { AdminKeys } from './admin-keys.ts';

describe('AdminKeys', () => {
  let storage: SqliteStorage;
  let keys: AdminKeys;
  beforeEach(() => {
    storage = new SqliteStorage(':memory:');
    keys = new AdminKeys(storage);
  });
  afterEach(() => storage.close());

  it('shows the secret once and stores only its hash', async () => {
    const { key, secret } = await keys.create('deploy bot');
    expect(key.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(secret).toMatch(new RegExp(`^lk_${key.sid}_[A-Za-z0-9_-]{43}$`));
    const stored = await storage.find('admin_key', key.sid);
    expect(JSON.stringify(stored)).not.toContain(secret.slice(-43));
    expect(await keys.list()).toEqual([{ sid: key.sid, name: 'deploy bot', createdAt: key.createdAt }]);
  });

  it('verifies the right secret and refuses look-alikes', async () => {
    const { key, secret } = await keys.create('ops');
    expect((await keys.verify(secret))?.sid).toBe(key.sid);
    const other = await keys.create('other');
    // The SID inside the secret must be the key's own: a secret cannot be relabelled.
    expect(await keys.verify(secret.replace(key.sid, other.key.sid))).toBeUndefined();
    expect(await keys.verify(secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
    expect(await keys.verify('')).toBeUndefined();
    expect(await keys.verify('lk_nope')).toBeUndefined();
  });

  it('records last use at most once a minute', async () => {
    const { key, secret } = await keys.create('ops', 1_000);
    expect((await keys.verify(secret, 10_000))?.lastUsedAt).toBe(10_000);
    expect((await keys.verify(secret, 20_000))?.lastUsedAt).toBe(10_000);
    expect((await keys.verify(secret, 75_000))?.lastUsedAt).toBe(75_000);
    expect((await keys.list()).find((k) => k.sid === key.sid)?.lastUsedAt).toBe(75_000);
  });

  it('revokes keys, and names malformed and unknown SIDs', async () => {
    const { key, secret } = await keys.create('ops');
    await keys.revoke(key.sid);
    expect(await keys.verify(secret)).toBeUndefined();
    await expect(keys.revoke(key.sid)).rejects.toMatchObject({ status: 404 });
    await expect(keys.revoke('SK123')).rejects.toMatchObject({ status: 400, message: expect.stringContaining('AdminKeySid') });
  });
});
