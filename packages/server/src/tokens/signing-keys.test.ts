import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretBox } from '../crypto/secret-box.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/port.ts';
import { SigningKeys } from './signing-keys.ts';
import { heldRsa as rsa } from '../../../../test/support/held-rsa.ts';

// RSA key generation held until a test releases it: the state a server is in just after start
// on a fresh database, for as long as the test needs (real generation takes 50–500 ms).
vi.mock('jose', async (original) => (await import('../../../../test/support/held-rsa.ts')).joseWithHeldRsa(await original()));

const HOUR = 3600_000;
/** Resolves to true once `promise` has settled, false if it is still pending after a few turns. */
const settledSoon = async (promise: Promise<unknown>) => {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return settled;
};

describe('SigningKeys with the RS256 key deferred (server start on a fresh database)', () => {
  let dir: string;
  let storages: Storage[];
  const secrets = new SecretBox(randomBytes(32));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lanyard-keys-'));
    // Two connections to one file: two nodes sharing a database.
    storages = [await openStorage(`sqlite:${join(dir, 'lanyard.db')}`), await openStorage(`sqlite:${join(dir, 'lanyard.db')}`)];
    rsa.hold();
  });
  afterEach(async () => {
    rsa.release();
    await Promise.all(storages.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const stored = async (alg: string) =>
    (await storages[0]!.list<{ alg: string; retiredAt: number | null }>('signing_key')).filter(
      (k) => k.payload.alg === alg && k.payload.retiredAt === null,
    );

  it('is initialised with the ES256 key only; RS256 users wait for the key, then all get the same one', async () => {
    const keys = new SigningKeys(storages[0]!, secrets, HOUR);
    await keys.init({ deferred: ['RS256'] });
    expect(keys.list().map((k) => k.alg)).toEqual(['ES256']);
    expect((await keys.current('ES256')).kid).toBe(keys.list()[0]!.kid);

    const signer = keys.current('RS256');
    const jwks = keys.jwks();
    const ready = keys.ready();
    expect(await settledSoon(Promise.all([signer, jwks, ready]))).toBe(false);
    rsa.release();

    const { kid } = await signer;
    const rsaKeys = await stored('RS256');
    expect(rsaKeys.map((k) => k.id)).toEqual([kid]);
    expect((await jwks).keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ kty: 'EC', alg: 'ES256' }), expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid })]),
    );
    await ready;
    await keys.settled();
    expect(await stored('RS256')).toHaveLength(1);
  });

  it('leaves one RS256 key when two nodes start on one empty database and create it in the background', async () => {
    const nodes = storages.map((storage) => new SigningKeys(storage, secrets, HOUR));
    await Promise.all(nodes.map((keys) => keys.init({ deferred: ['RS256'] })));
    expect(await stored('ES256')).toHaveLength(1);
    rsa.release();
    const kids = await Promise.all(nodes.map(async (keys) => (await keys.current('RS256')).kid));
    expect(new Set(kids).size).toBe(1);
    expect(await stored('RS256')).toHaveLength(1);
  });

  it('reports a failed background creation and creates the key on its next use', async () => {
    const keys = new SigningKeys(storages[0]!, secrets, HOUR);
    const transaction = storages[0]!.transaction.bind(storages[0]!);
    const failures: Error[] = [];
    await keys.init({ deferred: ['RS256'], onDeferredError: (error) => failures.push(error) });
    vi.spyOn(storages[0]!, 'transaction').mockImplementationOnce(() => Promise.reject(new Error('database unavailable')));
    rsa.release();
    await keys.settled();
    expect(failures.map((e) => e.message)).toEqual(['database unavailable']);
    expect(keys.list().map((k) => k.alg)).toEqual(['ES256']);

    vi.mocked(storages[0]!.transaction).mockImplementation(transaction);
    const { kid } = await keys.current('RS256');
    expect((await stored('RS256')).map((k) => k.id)).toEqual([kid]);
  });

  it('waits for every key when nothing is deferred (the CLI, tests)', async () => {
    rsa.release();
    const keys = new SigningKeys(storages[0]!, secrets, HOUR);
    await keys.init();
    expect(
      keys
        .list()
        .map((k) => k.alg)
        .sort(),
    ).toEqual(['ES256', 'RS256']);
  });
});
