import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { AccountService } from '../../packages/server/src/accounts/account-service.ts';
import { ClientRegistry } from '../../packages/server/src/clients/client-registry.ts';
import type { NewRecord, ReplaceOptions, Storage } from '../../packages/server/src/storage/port.ts';
import { MAX_UPDATE_ATTEMPTS } from '../../packages/server/src/storage/update-record.ts';
import { UserService, type UserProfile } from '../../packages/server/src/users/user-service.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * A change another request makes between this request's read and its write stays made: the write
 * is a compare-and-set (Storage.replace `ifPayload`), and a lost round reads again (updateRecord).
 * Each case puts the other request's change exactly there: through `writeBetween`, the real
 * storage with that change run just before this request's write, or, for a metadata refresh,
 * while the IdP's metadata is being fetched.
 */
describe.each(BACKENDS)('changes made at the same moment all stay, on %s', (backend) => {
  // One server for the file: each case works in an account of its own.
  let lanyard: TestLanyard;
  beforeAll(async () => {
    lanyard = await startTestLanyard(backend);
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  const profile = (uniqueId: string): UserProfile => ({
    uniqueId,
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    roles: ['agent'],
    imageUrl: null,
    attributes: {},
  });

  /**
   * `storage` itself, but `meanwhile` runs once, just before the first write (`replace`) of a
   * `kind` record through it: another request's change landing after this request read the record.
   * With `every`, before each such write: a record that other requests keep changing.
   */
  function writeBetween(storage: Storage, kind: string, meanwhile: () => Promise<unknown>, options: { every?: boolean } = {}): Storage {
    let pending = true;
    return overriding(storage, {
      replace: async (record: NewRecord<unknown>, replaceOptions?: ReplaceOptions) => {
        if (record.kind === kind && (pending || options.every)) {
          pending = false;
          await meanwhile();
        }
        return storage.replace(record, replaceOptions);
      },
    });
  }

  /** `storage` itself (every method bound to it) but for the methods in `overrides`. */
  function overriding(storage: Storage, overrides: Partial<Storage>): Storage {
    return new Proxy(storage, {
      get(target, property) {
        if (Object.hasOwn(overrides, property)) return overrides[property as keyof Storage];
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  it('keeps a user disabled by an administrator while they were signing in: the sign-in sees the disable', async () => {
    const { accounts, users, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Disabled while signing in');
    const ada = await users.provision(account.sid, profile('ada'));
    const signingIn = new UserService(writeBetween(storage, 'user', () => users.setDisabled(ada.sid, true)));
    const signedIn = await signingIn.provision(account.sid, { ...profile('ada'), fullName: 'Ada King' });
    expect(signedIn).toMatchObject({ sid: ada.sid, disabled: true, fullName: 'Ada King' });
    expect(await users.get(ada.sid)).toMatchObject({ disabled: true, fullName: 'Ada King' });
  });

  it('signs one agent in from many tabs at once: every sign-in lands on the one user, and a disable made meanwhile stays', async () => {
    const { accounts, users } = lanyard.services;
    const { account } = await accounts.createAccount('Many tabs');
    const first = await users.provision(account.sid, profile('tabs'));
    const signIns = await Promise.allSettled(Array.from({ length: 40 }, () => users.provision(account.sid, profile('tabs'))));
    expect(signIns.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
    expect(new Set(signIns.map((s) => (s as PromiseFulfilledResult<{ sid: string }>).value.sid))).toEqual(new Set([first.sid]));

    const [disabled, ...more] = await Promise.allSettled([
      users.setDisabled(first.sid, true),
      ...Array.from({ length: 20 }, () => users.provision(account.sid, profile('tabs'))),
    ]);
    expect(disabled.status).toBe('fulfilled');
    expect(more.filter((s) => s.status === 'rejected')).toEqual([]);
    expect((await users.get(first.sid)).disabled).toBe(true);
  });

  it('signs in as the kept user when another tab of the same agent signed in and a merge removed the duplicate meanwhile', async () => {
    const { accounts, users, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Merged during a sign-in');
    const [from, into] = [await users.provision(account.sid, profile('dup')), await users.provision(account.sid, profile('keep'))];
    // A merge of the duplicate that has removed it and holds its transaction open a moment.
    let removed!: () => void;
    const hasRemoved = new Promise<void>((resolve) => (removed = resolve));
    const held = (tx: Storage): Storage =>
      overriding(tx, {
        destroy: async (kind: string, id: string) => {
          const result = await tx.destroy(kind, id);
          removed();
          await new Promise((resolve) => setTimeout(resolve, 300));
          return result;
        },
      });
    const merging = overriding(storage, { transaction: (work) => storage.transaction((tx) => work(held(tx))) });
    let merge: Promise<unknown> = Promise.resolve();
    const signingIn = new UserService(
      writeBetween(storage, 'user', async () => {
        await users.provision(account.sid, profile('dup'));
        merge = new UserService(merging).merge(from.sid, into.sid, { adoptUniqueId: true });
        // SQLite runs one transaction at a time: the merge is done before this goes on.
        await Promise.race([hasRemoved, merge]);
      }),
    );
    const signedIn = await signingIn.provision(account.sid, profile('dup'));
    await merge;
    expect(signedIn.sid).toBe(into.sid);
    expect(await users.find(from.sid)).toBeUndefined();
  });

  it('keeps both a relink and a disable of one user made at the same moment, whichever writes first', async () => {
    const { accounts, users, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Relinked and disabled');
    const first = await users.provision(account.sid, profile('old-1'));
    await new UserService(writeBetween(storage, 'user', () => users.setDisabled(first.sid, true))).relink(first.sid, 'new-1');
    expect(await users.get(first.sid)).toMatchObject({ uniqueId: 'new-1', disabled: true });

    const second = await users.provision(account.sid, profile('old-2'));
    await new UserService(writeBetween(storage, 'user', () => users.relink(second.sid, 'new-2'))).setDisabled(second.sid, true);
    expect(await users.get(second.sid)).toMatchObject({ uniqueId: 'new-2', disabled: true });
    expect((await users.provision(account.sid, profile('new-2'))).sid).toBe(second.sid);

    // A relink whose id another user took meanwhile is refused with the 409 naming them.
    const third = await users.provision(account.sid, profile('old-3'));
    const relinking = new UserService(writeBetween(storage, 'user', () => users.provision(account.sid, profile('new-3'))));
    await expect(relinking.relink(third.sid, 'new-3')).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/already has the unique id "new-3"/),
    });
    expect((await users.get(third.sid)).uniqueId).toBe('old-3');
  });

  it('keeps a client secret revoked while another secret was issued: the revoked one does not come back for the rollover', async () => {
    const { accounts, clients, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Leaked secret');
    const { connection } = await accounts.ensureConnection(account.sid);
    const { client } = await clients.register({ connectionSid: connection.sid, redirectUris: ['https://rp.example.com/cb'] });
    const { secret: rollingOver } = await clients.rotateSecret(client.clientId, 0);
    const { secret: leaked, secretId: leakedId } = await clients.rotateSecret(client.clientId, 3600);
    // The client's secrets: `leaked` (current) and `rollingOver` (for an hour). One administrator
    // revokes `leaked` while another rotates: the rotation must not give `leaked` another hour
    // as the rolling-over secret.
    const rotating = new ClientRegistry(
      writeBetween(storage, 'oauth_client', () => clients.revokeSecret(client.clientId, leakedId)),
      accounts,
    );
    const { secret: newest } = await rotating.rotateSecret(client.clientId, 3600);
    const stored = await clients.get(client.clientId);
    expect(stored.secrets.map((s) => s.id)).not.toContain(leakedId);
    expect(clients.verifySecret(stored, leaked)).toBe(false);
    expect(clients.verifySecret(stored, newest)).toBe(true);
    // The secret rolling over from the rotation before keeps its own end: deployments may still use it.
    expect(clients.verifySecret(stored, rollingOver)).toBe(true);
    expect(stored.secrets).toHaveLength(2);
  });

  // The admin path rotates inside a transaction with its audit record. PostgreSQL only: on SQLite a
  // transaction holds the write lock, so no other write can come between its read and its write.
  it.skipIf(backend !== 'postgres')('keeps a client secret revoked while another was issued in a transaction with its audit record', async () => {
    const { accounts, clients, storage, audit } = lanyard.services;
    const { account } = await accounts.createAccount('Leaked secret, audited');
    const { connection } = await accounts.ensureConnection(account.sid);
    const { client } = await clients.register({ connectionSid: connection.sid, redirectUris: ['https://rp.example.com/cb'] });
    const { secret: leaked, secretId: leakedId } = await clients.rotateSecret(client.clientId, 3600);
    const revokeMeanwhile = () => clients.revokeSecret(client.clientId, leakedId);
    // The transaction's own writes get the revocation between their read and their write.
    const rotating = new ClientRegistry(
      overriding(storage, {
        transaction: (work) => storage.transaction((tx) => work(writeBetween(tx, 'oauth_client', revokeMeanwhile))),
      }),
      accounts,
    );
    const { secret: newest } = await rotating.rotateSecret(client.clientId, 3600, (tx, made) =>
      audit.within(tx).record({
        type: 'admin.change',
        accountSid: made.accountSid,
        connectionSid: null,
        userSid: null,
        uniqueId: null,
        surface: 'cli',
        code: null,
        reason: 'rotated in a test',
      }),
    );
    const stored = await clients.get(client.clientId);
    expect(stored.secrets.map((s) => s.id)).not.toContain(leakedId);
    expect(clients.verifySecret(stored, leaked)).toBe(false);
    expect(clients.verifySecret(stored, newest)).toBe(true);
    expect((await audit.recent(account.sid)).map((event) => event.reason)).toContain('rotated in a test');
  });

  it('keeps a redirect URI removed while another administrator changed the attribute mapping', async () => {
    const { accounts, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Two administrators');
    const { connection } = await accounts.ensureConnection(account.sid);
    await accounts.setRedirectUris(connection.sid, ['https://rp.example.com/cb', 'https://old.example.com/cb']);
    const mapping = new AccountService(
      writeBetween(storage, 'connection', () => accounts.setRedirectUris(connection.sid, ['https://rp.example.com/cb'])),
    );
    await mapping.setMapping(connection.sid, { email: ['mail'] });
    expect(await accounts.getConnection(connection.sid)).toMatchObject({
      redirectUris: ['https://rp.example.com/cb'],
      mapping: { email: ['mail'] },
    });
  });

  it('keeps what an administrator changed while the IdP metadata was being fetched, and lands the new metadata too', async () => {
    const [oldIdp, newIdp] = await Promise.all([startDevIdp({ port: 0 }), startDevIdp({ port: 0 })]);
    let duringFetch = async (): Promise<unknown> => undefined;
    let body = oldIdp.metadataXml;
    const metadataServer = createServer((_req, res) => {
      void duringFetch().then(() => res.end(body));
    });
    await new Promise<void>((resolve) => metadataServer.listen(0, '127.0.0.1', resolve));
    try {
      const { accounts } = lanyard.services;
      const { account } = await accounts.createAccount('Refresh during a change');
      const metadataUrl = `http://127.0.0.1:${(metadataServer.address() as AddressInfo).port}/metadata`;
      const connection = await accounts.setSaml(account.sid, { metadataUrl });
      await accounts.setRedirectUris(connection.sid, ['https://rp.example.com/cb', 'https://old.example.com/cb']);
      body = newIdp.metadataXml;
      duringFetch = () => accounts.setRedirectUris(connection.sid, ['https://rp.example.com/cb']);
      expect(await accounts.refreshMetadata()).toContainEqual({ connectionSid: connection.sid, changed: true, error: null });
      expect(await accounts.getConnection(connection.sid)).toMatchObject({
        redirectUris: ['https://rp.example.com/cb'],
        saml: { issuer: newIdp.entityId, metadataUrl },
      });

      // Pointed at other metadata during the fetch: the refresh does not write the old URL's metadata over it.
      body = oldIdp.metadataXml;
      const otherUrl = `${metadataUrl}?other`;
      duringFetch = async () => {
        duringFetch = async () => undefined;
        body = newIdp.metadataXml;
        await accounts.setSaml(account.sid, { metadataUrl: otherUrl });
        body = oldIdp.metadataXml;
      };
      // Nothing written, and the refresh says so.
      expect(await accounts.refreshMetadata()).toContainEqual({ connectionSid: connection.sid, changed: false, error: null });
      expect((await accounts.getConnection(connection.sid)).saml).toMatchObject({ issuer: newIdp.entityId, metadataUrl: otherUrl });
    } finally {
      metadataServer.close();
      await Promise.all([oldIdp.close(), newIdp.close()]);
    }
  });

  it('refuses to keep an OpenID Connect client secret that another administrator removed while discovery ran, rather than make the client public', async () => {
    const idp = await startDevIdp({ port: 0 });
    try {
      const { accounts } = lanyard.services;
      const { account } = await accounts.createAccount('Secret kept');
      const oidc = { issuer: 'https://idp.example.com', clientId: 'lanyard' };
      await accounts.setOidc(account.sid, { ...oidc, clientSecret: 's3cret' }, async () => undefined);
      // Saved again without a secret (keep the stored one) while another administrator switches the connection to SAML.
      const saving = accounts.setOidc(account.sid, oidc, async () => {
        await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
      });
      await expect(saving).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/send client_secret again/) });
      const connection = (await accounts.connectionsOf(account.sid))[0]!;
      expect(connection).toMatchObject({ protocol: 'saml', oidc: null, saml: { issuer: idp.entityId } });
      // Nothing changed meanwhile: the secret is kept.
      await accounts.setOidc(account.sid, { ...oidc, clientSecret: 's3cret' }, async () => undefined);
      const kept = await accounts.setOidc(account.sid, oidc, async () => undefined);
      expect(kept.oidc?.sealedClientSecret).toEqual(expect.any(String));
    } finally {
      await idp.close();
    }
  });

  it(`answers a change that loses to other writers ${MAX_UPDATE_ATTEMPTS} times running with a 409 saying to try again, writing nothing`, async () => {
    const { accounts, users, storage } = lanyard.services;
    const { account } = await accounts.createAccount('Busy user');
    const ada = await users.provision(account.sid, profile('busy'));
    let renames = 0;
    const busy = writeBetween(storage, 'user', () => users.provision(account.sid, { ...profile('busy'), fullName: `Ada ${++renames}` }), {
      every: true,
    });
    await expect(new UserService(busy).setDisabled(ada.sid, true)).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(
        new RegExp(
          `User ${ada.sid} was changed by ${MAX_UPDATE_ATTEMPTS} other requests while this one tried to change it; nothing was written, try again`,
        ),
      ),
    });
    // At the ACS the desktop hears it as RFC 6749 temporarily_unavailable, without the user's id.
    await expect(new UserService(busy).provision(account.sid, profile('busy'))).rejects.toMatchObject({
      status: 409,
      oauthError: 'temporarily_unavailable',
      message: expect.not.stringContaining('busy'),
    });
    expect(await users.get(ada.sid)).toMatchObject({ disabled: false, fullName: `Ada ${renames}` });
  });
});
