import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminKeys } from '../../packages/server/src/admin/admin-keys.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * A record removed while another request changes it stays removed: that request's write is an
 * update of what still exists (Storage.replace), never an upsert that would bring it back. The
 * removals here are the security ones: a revoked admin key, a removed OAuth client.
 */
describe.each(BACKENDS)('records removed while they are changed, on %s', (backend) => {
  // One server for the file: each case works in an account of its own.
  let lanyard: TestLanyard;
  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  it('keeps an admin key revoked while it was in use (its last-used time written at the same moment)', async () => {
    const keys = new AdminKeys(lanyard.services.storage);
    for (let round = 0; round < 10; round++) {
      const { key, secret } = await keys.create(`race ${round}`);
      // Far enough ahead that the verification writes the key's last-used time.
      await Promise.allSettled([keys.verify(secret, Date.now() + 3_600_000), keys.revoke(key.sid)]);
      expect(await keys.find(key.sid)).toBeUndefined();
      expect(await keys.verify(secret, Date.now() + 7_200_000)).toBeUndefined();
    }
  });

  it('keeps an OAuth client removed while it was being updated, secrets and all', async () => {
    const { accounts, clients } = lanyard.services;
    const { account } = await accounts.createAccount('Removed clients');
    const { connection } = await accounts.ensureConnection(account.sid);
    for (let round = 0; round < 10; round++) {
      const { client } = await clients.register({ connectionSid: connection.sid, redirectUris: ['https://rp.example.com/callback'] });
      const [updated] = await Promise.allSettled([clients.update(client.clientId, { name: `renamed ${round}` }), clients.remove(client.clientId)]);
      if (updated.status === 'rejected') expect((updated as PromiseRejectedResult).reason).toMatchObject({ status: 404 });
      expect(await clients.find(client.clientId)).toBeUndefined();
    }
  });
});
