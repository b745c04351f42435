import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../packages/server/src/crypto/secret-box.ts';
import { openStorage } from '../../packages/server/src/storage/open.ts';
import type { Storage } from '../../packages/server/src/storage/port.ts';
import { SigningKeys } from '../../packages/server/src/tokens/signing-keys.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

/** Signing-key creation and rotation from several processes at once (each with its own pool). */
describe('signing keys shared through PostgreSQL', () => {
  let db: TestDatabase;
  let storages: Storage[];
  const secrets = new SecretBox(randomBytes(32));

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    storages = [];
    for (let i = 0; i < 4; i++) storages.push(await openStorage(db.url));
  });
  afterAll(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await db.drop();
  });

  /** Active keys of one algorithm (ES256 signs access tokens; RS256 signs ID tokens by default). */
  const active = async (alg = 'ES256') =>
    (await storages[0]!.list<{ retiredAt: number | null; alg: string }>('signing_key')).filter(
      (k) => k.payload.retiredAt === null && k.payload.alg === alg,
    );

  it('creates one signing key when four nodes initialise an empty database at the same moment', async () => {
    const nodes = storages.map((storage) => new SigningKeys(storage, secrets, 3600_000));
    await Promise.all(nodes.map((keys) => keys.init()));
    expect(await active()).toHaveLength(1);
    expect(await active('RS256')).toHaveLength(1);
    const kids = await Promise.all(nodes.map(async (keys) => (await keys.current()).kid));
    expect(new Set(kids).size).toBe(1);
    const rsaKids = await Promise.all(nodes.map(async (keys) => (await keys.current('RS256')).kid));
    expect(new Set(rsaKids).size).toBe(1);
  });

  it('keeps one RS256 key when four starting nodes create it in the background, one rotating meanwhile', async () => {
    const nodes = storages.map((storage) => new SigningKeys(storage, secrets, 3600_000));
    // The database has keys from the test above; retire the RS256 one so that every node finds it missing.
    const [rsaKey] = await active('RS256');
    await storages[0]!.upsert({ kind: 'signing_key', id: rsaKey!.id, payload: { ...rsaKey!.payload, retiredAt: Date.now() } });
    await Promise.all(nodes.map((keys) => keys.init({ deferred: ['RS256'] })));
    const rotated = nodes[0]!.rotate();
    await Promise.all([rotated, ...nodes.map((keys) => keys.ready())]);
    expect(await active()).toHaveLength(1);
    const [rsaActive, ...others] = await active('RS256');
    expect(others).toHaveLength(0);
    // A node that created the key before the rotation signs with it until its next reload (as after any rotation).
    await Promise.all(nodes.map((keys) => keys.reload()));
    const rsaKids = await Promise.all(nodes.map(async (keys) => (await keys.current('RS256')).kid));
    expect(new Set(rsaKids)).toEqual(new Set([rsaActive!.id]));
  });

  it('leaves one signing key after concurrent rotations, with every replaced key still verifying', async () => {
    const nodes = storages.map((storage) => new SigningKeys(storage, secrets, 3600_000));
    const before = (await active())[0]!.id;
    const kids = await Promise.all(nodes.map((keys) => keys.rotate()));
    const now = await active();
    expect(now).toHaveLength(1);
    expect(await active('RS256')).toHaveLength(1);
    expect(kids).toContain(now[0]!.id);
    // A node that looks afterwards (the others reload on an unknown kid or within seconds) verifies all of them.
    const observer = new SigningKeys(storages[0]!, secrets, 3600_000);
    await observer.reload();
    for (const kid of [before, ...kids]) expect(await observer.verificationKey(kid)).toBeDefined();
    // A key verifies only under its own algorithm.
    expect(await observer.verificationKey(before, 'RS256')).toBeUndefined();
  });
});
