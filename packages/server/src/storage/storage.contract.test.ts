import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { BACKENDS, POSTGRES_URL, createTestDatabase, type Backend, type TestDatabase } from '../../../../test/support/backends.ts';
import { ConfigError, LookupTakenError, UnstorableValueError } from '../errors.ts';
import { openStorage } from './open.ts';
import type { RecordCondition, Storage } from './port.ts';

/** Each backend, and PostgreSQL once more without prepared statements (behind PgBouncer in transaction mode). */
const VARIANTS: Array<[string, Backend, string]> = BACKENDS.flatMap((backend): Array<[string, Backend, string]> =>
  backend === 'postgres'
    ? [
        ['postgres', backend, ''],
        ['postgres with prepared_statements=false', backend, '&prepared_statements=false'],
      ]
    : [[backend, backend, '']],
);

describe.each(VARIANTS)('storage contract on %s', (_name, backend, urlSuffix) => {
  let db: TestDatabase;
  let storage: Storage;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    storage = await openStorage(db.url + urlSuffix);
  });
  afterAll(async () => {
    await storage.close();
    await db.drop();
  });

  /**
   * A transaction that does `work`, then stays open until `release()`, then commits (or rolls
   * back, `rollback`). `holding` settles once `work` is done: its locks and writes are held.
   */
  function heldTransaction(work: (tx: Storage) => Promise<unknown>, end: 'commit' | 'rollback' = 'commit') {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const done = storage
      .transaction(async (tx) => {
        await work(tx);
        held();
        await released;
        if (end === 'rollback') throw new Error('rolled back');
      })
      .catch((error: Error) => error.message);
    return { holding, release, done };
  }

  /**
   * `${prefix}-token` t1 and the records its payload names: a session, a user, an expired user, a
   * number (beside a user whose id is its text) and nobody. The links name each of them, a field
   * the payload lacks, an inherited property and the user again; LINKED_PAYLOADS is what they find.
   */
  async function storeLinkedRecords(prefix: string, token: { family?: string } = {}) {
    await storage.insert({ kind: `${prefix}-session`, id: 's1', payload: { n: 'session' } });
    await storage.insert({ kind: `${prefix}-user`, id: 'u1', payload: { n: 'user' } });
    await storage.insert({ kind: `${prefix}-user`, id: 'gone', payload: {}, expiresAt: Date.now() - 1 });
    await storage.insert({ kind: `${prefix}-user`, id: '7', payload: {} });
    await storage.insert({
      kind: `${prefix}-token`,
      id: 't1',
      ...token,
      payload: { sessionId: 's1', userSid: 'u1', expiredUser: 'gone', notAnId: 7, missing: 'nobody' },
    });
    const user = `${prefix}-user`;
    return [
      { kind: user, idField: 'userSid' },
      { kind: `${prefix}-session`, idField: 'sessionId' },
      { kind: user, idField: 'expiredUser' },
      // A number is not an id, even where a record's id is its text.
      { kind: user, idField: 'notAnId' },
      { kind: user, idField: 'missing' },
      { kind: user, idField: 'absentField' },
      // Outside input never indexes a plain object: an inherited property names nothing.
      { kind: user, idField: '__proto__' },
      // The same record twice: each link gets it.
      { kind: user, idField: 'userSid' },
    ];
  }
  const LINKED_PAYLOADS = [{ n: 'user' }, { n: 'session' }, null, null, null, null, null, { n: 'user' }];

  it('inserts once and refuses a duplicate id or lookup', async () => {
    expect(await storage.insert({ kind: 'k', id: 'a', lookup: 'L', payload: { n: 1 } })).toBe(true);
    expect(await storage.insert({ kind: 'k', id: 'a', payload: { n: 2 } })).toBe(false);
    expect(await storage.insert({ kind: 'k', id: 'b', lookup: 'L', payload: { n: 3 } })).toBe(false);
    expect((await storage.find<{ n: number }>('k', 'a'))?.payload.n).toBe(1);
    expect((await storage.findByLookup<{ n: number }>('k', 'L'))?.id).toBe('a');
  });

  it('finds several records of several kinds at once, in the order asked, inside a transaction too', async () => {
    await storage.insert({ kind: 'm1', id: 'one', payload: { n: 1 } });
    await storage.insert({ kind: 'm2', id: 'one', payload: { n: 2 } });
    await storage.insert({ kind: 'm2', id: 'gone', payload: {}, expiresAt: Date.now() - 1 });
    const keys = [
      { kind: 'm2', id: 'one' },
      { kind: 'm1', id: 'missing' },
      { kind: 'm2', id: 'gone' },
      { kind: 'm1', id: 'one' },
    ];
    const payloads = (found: Array<{ payload: unknown } | undefined>) => found.map((r) => r?.payload);
    expect(payloads(await storage.findMany(keys))).toEqual([{ n: 2 }, undefined, undefined, { n: 1 }]);
    expect(payloads(await storage.transaction((tx) => tx.findMany(keys)))).toEqual([{ n: 2 }, undefined, undefined, { n: 1 }]);
    expect(await storage.findMany([])).toEqual([]);
    // One and two keys take another statement on PostgreSQL (a prepared one): the same answers.
    const STORED = new Map([
      ['m2/one', { n: 2 }],
      ['m1/one', { n: 1 }],
    ]);
    for (const few of [keys.slice(0, 1), keys.slice(1, 2), keys.slice(0, 2), keys.slice(2, 4), [keys[3]!, keys[3]!], [keys[1]!, keys[1]!]]) {
      const expected = few.map((key) => STORED.get(`${key.kind}/${key.id}`));
      expect(payloads(await storage.findMany(few)), JSON.stringify(few)).toEqual(expected);
      expect(payloads(await storage.transaction((tx) => tx.findMany(few)))).toEqual(expected);
    }
  });

  it('upserts payload and keeps createdAt', async () => {
    await storage.upsert({ kind: 'u', id: 'x', payload: { v: 1 }, createdAt: 1000 });
    await storage.upsert({ kind: 'u', id: 'x', payload: { v: 2 }, createdAt: 5000 });
    const record = await storage.find<{ v: number }>('u', 'x');
    expect(record?.payload.v).toBe(2);
    expect(record?.createdAt).toBe(1000);
  });

  it('refuses an upsert whose lookup another record of its kind holds with LookupTakenError, changing nothing, in or out of a transaction', async () => {
    await storage.insert({ kind: 'lt', id: 'holder', lookup: 'acct:ada', payload: { n: 'holder' } });
    await storage.insert({ kind: 'lt', id: 'mover', lookup: 'acct:bob', payload: { n: 'mover' } });
    const refusal = await storage.upsert({ kind: 'lt', id: 'mover', lookup: 'acct:ada', payload: { n: 'moved' } }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(LookupTakenError);
    expect(refusal).toMatchObject({ status: 409, code: 20409, kind: 'lt' });
    const newcomer = await storage.upsert({ kind: 'lt', id: 'newcomer', lookup: 'acct:ada', payload: {} }).catch((e: unknown) => e);
    expect(newcomer).toBeInstanceOf(LookupTakenError);
    const inTransaction = await storage
      .transaction(async (tx) => {
        await tx.destroy('lt', 'holder-twin');
        await tx.upsert({ kind: 'lt', id: 'mover', lookup: 'acct:ada', payload: { n: 'moved' } });
      })
      .catch((e: unknown) => e);
    expect(inTransaction).toBeInstanceOf(LookupTakenError);
    expect((await storage.find('lt', 'mover'))?.payload).toEqual({ n: 'mover' });
    expect((await storage.findByLookup('lt', 'acct:ada'))?.id).toBe('holder');
    expect(await storage.find('lt', 'newcomer')).toBeUndefined();
    // The same lookup under another kind, and its own lookup again, are no conflict.
    await storage.upsert({ kind: 'lt-other', id: 'x', lookup: 'acct:ada', payload: {} });
    await storage.upsert({ kind: 'lt', id: 'holder', lookup: 'acct:ada', payload: { n: 'holder 2' } });
    expect((await storage.findByLookup('lt', 'acct:ada'))?.payload).toEqual({ n: 'holder 2' });
  });

  it('replaces a record that still exists, and writes nothing (false) over one removed or expired, nor over a taken lookup', async () => {
    await storage.insert({ kind: 'rp', id: 'live', lookup: 'rp:live', payload: { v: 1 }, createdAt: 1000 });
    expect(await storage.consume('rp', 'live')).toMatchObject({ consumedNow: true });
    expect(await storage.replace({ kind: 'rp', id: 'live', lookup: 'rp:live2', payload: { v: 2 }, createdAt: 9999 })).toBe(true);
    const replaced = await storage.find<{ v: number }>('rp', 'live');
    expect(replaced).toMatchObject({ payload: { v: 2 }, lookup: 'rp:live2', createdAt: 1000 });
    expect(replaced?.consumedAt).not.toBeNull();
    expect((await storage.findByLookup('rp', 'rp:live2'))?.id).toBe('live');

    await storage.insert({ kind: 'rp', id: 'removed', payload: { v: 1 } });
    await storage.destroy('rp', 'removed');
    expect(await storage.replace({ kind: 'rp', id: 'removed', payload: { v: 2 } })).toBe(false);
    expect(await storage.find('rp', 'removed')).toBeUndefined();
    await storage.insert({ kind: 'rp', id: 'expired', payload: { v: 1 }, expiresAt: Date.now() - 1 });
    expect(await storage.replace({ kind: 'rp', id: 'expired', payload: { v: 2 }, expiresAt: Date.now() + 60_000 })).toBe(false);
    expect(await storage.find('rp', 'expired')).toBeUndefined();
    expect(await storage.replace({ kind: 'rp', id: 'nul\u0000', payload: {} })).toBe(false);

    await storage.insert({ kind: 'rp', id: 'other', lookup: 'rp:other', payload: { v: 1 } });
    await expect(storage.replace({ kind: 'rp', id: 'other', lookup: 'rp:live2', payload: { v: 2 } })).rejects.toBeInstanceOf(LookupTakenError);
    expect(await storage.find('rp', 'other')).toMatchObject({ payload: { v: 1 }, lookup: 'rp:other' });
    expect(await storage.transaction((tx) => tx.replace({ kind: 'rp', id: 'other', lookup: 'rp:other', payload: { v: 3 } }))).toBe(true);
    expect((await storage.find('rp', 'other'))?.payload).toEqual({ v: 3 });
  });

  it('replaces only while the payload is still the one read (compare-and-set), whatever its text looked like when stored', async () => {
    await storage.insert({ kind: 'cas', id: 'u', lookup: 'cas:u', payload: { name: 'Ada', roles: ['agent'], odd: 'x\ud800y', disabled: false } });
    const read = await storage.find<Record<string, unknown>>('cas', 'u');
    // Stored as U+FFFD, read back as it: the payload as read matches what is stored.
    expect(read?.payload.odd).toBe('x\ufffdy');
    // Another request writes first (a disable): the write built on the earlier read is refused.
    await storage.replace({ kind: 'cas', id: 'u', lookup: 'cas:u', payload: { ...read!.payload, disabled: true } }, { ifPayload: read!.payload });
    expect(
      await storage.replace({ kind: 'cas', id: 'u', lookup: 'cas:u', payload: { ...read!.payload, name: 'Ada L' } }, { ifPayload: read!.payload }),
    ).toBe(false);
    const now = await storage.find<Record<string, unknown>>('cas', 'u');
    expect(now?.payload).toEqual({ name: 'Ada', roles: ['agent'], odd: 'x\ufffdy', disabled: true });
    // Built on a fresh read, it lands; keys in another order are the same payload.
    const reordered = Object.fromEntries(Object.entries(now!.payload).reverse());
    expect(
      await storage.replace({ kind: 'cas', id: 'u', lookup: 'cas:u', payload: { ...now!.payload, name: 'Ada L' } }, { ifPayload: reordered }),
    ).toBe(true);
    expect((await storage.find<Record<string, unknown>>('cas', 'u'))?.payload).toMatchObject({ name: 'Ada L', disabled: true });
    expect(await storage.replace({ kind: 'cas', id: 'u', payload: {} }, { ifPayload: { name: 'Ada L' } })).toBe(false);
    // Inside a transaction too; a removed record stays removed.
    const inTx = await storage.transaction(async (tx) => {
      const current = await tx.find<Record<string, unknown>>('cas', 'u', { forUpdate: true });
      return tx.replace({ kind: 'cas', id: 'u', lookup: 'cas:u', payload: { ...current!.payload, roles: [] } }, { ifPayload: current!.payload });
    });
    expect(inTx).toBe(true);
    const last = await storage.find<Record<string, unknown>>('cas', 'u');
    await storage.destroy('cas', 'u');
    expect(await storage.replace({ kind: 'cas', id: 'u', payload: last!.payload }, { ifPayload: last!.payload })).toBe(false);
    expect(await storage.find('cas', 'u')).toBeUndefined();
  });

  it.runIf(backend === 'sqlite')(
    'reads then writes in turn with another process writing to the same file: a compare-and-set and a spend-and-store wait, never fail',
    async () => {
      await storage.insert({ kind: 'turns', id: 'counter', payload: { n: 0 } });
      const writer = spawn(process.execPath, [
        '--import',
        'tsx',
        fileURLToPath(new URL('../../../../test/support/sqlite-writer.ts', import.meta.url)),
        db.url.slice('sqlite:'.length),
        '2000',
      ]);
      let written = '';
      writer.stdout.on('data', (chunk: Buffer) => (written += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));
      // Until the other process has written for a while (it opens the file first).
      while ((await storage.list('other-process', { limit: 1 })).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const failures: string[] = [];
      let rounds = 0;
      const end = Date.now() + 1_000;
      while (Date.now() < end) {
        try {
          const current = await storage.find<{ n: number }>('turns', 'counter');
          if (!(await storage.replace({ kind: 'turns', id: 'counter', payload: { n: current!.payload.n + 1 } }, { ifPayload: current!.payload }))) {
            failures.push('compare-and-set lost with no other writer of the record');
          }
          await storage.insert({ kind: 'turns', id: `t${rounds}`, payload: {} });
          if (!(await storage.consumeAndInsert('turns', `t${rounds}`, { kind: 'turns', id: `s${rounds}`, payload: {} }))) failures.push('spend lost');
          rounds++;
        } catch (error) {
          failures.push(`${(error as Error).name}: ${(error as Error).message}`);
        }
      }
      expect(await exited).toBe(0);
      expect(Number(written)).toBeGreaterThan(0);
      expect(rounds).toBeGreaterThan(0);
      expect(failures.slice(0, 3)).toEqual([]);
      expect((await storage.find<{ n: number }>('turns', 'counter'))?.payload.n).toBe(rounds);
    },
    20_000,
  );

  it('consumes exactly once, even when raced', async () => {
    await storage.insert({ kind: 'code', id: 'c1', payload: {} });
    const results = await Promise.all(Array.from({ length: 8 }, () => storage.consume('code', 'c1')));
    expect(results.filter((r) => r?.consumedNow).length).toBe(1);
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(await storage.consume('code', 'missing')).toBeUndefined();
  });

  it('consumes a record and reads the records its payload names, once, in the order of the links', async () => {
    const links = await storeLinkedRecords('cl');
    const results = await Promise.all(Array.from({ length: 4 }, () => storage.consumeWithLinked('cl-token', 't1', links)));
    expect(results.filter((r) => r?.consumedNow)).toHaveLength(1);
    for (const result of results) {
      expect(result?.record.id).toBe('t1');
      expect(result?.linked.map((r) => r?.payload ?? null)).toEqual(LINKED_PAYLOADS);
    }
    // Inside a transaction too, and the spent record stays spent.
    const again = await storage.transaction((tx) => tx.consumeWithLinked('cl-token', 't1', links.slice(0, 1)));
    expect(again?.consumedNow).toBe(false);
    expect(again?.linked.map((r) => r?.id)).toEqual(['u1']);
    expect(await storage.consumeWithLinked('cl-token', 'missing', links)).toBeUndefined();
    await storage.insert({ kind: 'cl-token', id: 'expired', payload: { sessionId: 's1' }, expiresAt: Date.now() - 1 });
    expect(await storage.consumeWithLinked('cl-token', 'expired', links)).toBeUndefined();
    // A number is not an id, even where a record's id is its text (cl-user '7' exists).
    await storage.insert({ kind: 'cl-token', id: 't7', payload: { ref: 7 } });
    expect((await storage.consumeWithLinked('cl-token', 't7', [{ kind: 'cl-user', idField: 'ref' }]))?.linked).toEqual([undefined]);
  });

  it("spends and stores only while each condition holds, returning the conditions' payloads when it did", async () => {
    const now = Date.now();
    const successor = (id: string) => ({ kind: 'cc-token', id, payload: { from: 'a' }, expiresAt: now + 60_000 });
    await storage.insert({ kind: 'cc-session', id: 's', payload: { revokedAt: null, n: 1 } });
    await storage.insert({ kind: 'cc-user', id: 'u', payload: { disabled: false, name: 'Ada' } });
    await storage.insert({ kind: 'cc-user', id: 'gone', payload: { disabled: false }, expiresAt: now - 1 });
    await storage.insert({ kind: 'cc-user', id: 'older', payload: { name: 'no disabled field' } });
    const live: RecordCondition[] = [
      { kind: 'cc-session', id: 's', expected: { revokedAt: null } },
      { kind: 'cc-user', id: 'u', expected: { disabled: false } },
    ];
    const unmet: RecordCondition[][] = [
      [{ kind: 'cc-session', id: 's', expected: { revokedAt: 5 } }],
      [live[0]!, { kind: 'cc-user', id: 'missing', expected: { disabled: false } }],
      [live[0]!, { kind: 'cc-user', id: 'gone', expected: { disabled: false } }],
      // A field absent is not a field holding the value, null included.
      [{ kind: 'cc-user', id: 'older', expected: { disabled: false } }],
      [{ kind: 'cc-user', id: 'older', expected: { revokedAt: null } }],
      [{ kind: 'cc-user', id: 'u', expected: { disabled: false, name: 'Bob' } }],
    ];
    for (const [i, conditions] of unmet.entries()) {
      await storage.insert({ kind: 'cc-token', id: `t${i}`, payload: {} });
      expect(await storage.consumeAndInsertIf('cc-token', `t${i}`, successor(`n${i}`), conditions, now), `conditions ${i}`).toBeUndefined();
      expect((await storage.find('cc-token', `t${i}`))?.consumedAt, `conditions ${i}`).toBeNull();
      expect(await storage.find('cc-token', `n${i}`), `conditions ${i}`).toBeUndefined();
    }
    await storage.insert({ kind: 'cc-token', id: 'a', payload: {} });
    // Raced: one spends, and gets the payloads; the others change nothing.
    const results = await Promise.all(['b1', 'b2', 'b3'].map((id) => storage.consumeAndInsertIf('cc-token', 'a', successor(id), live, now)));
    expect(results.filter((r) => r !== undefined)).toEqual([
      [
        { revokedAt: null, n: 1 },
        { disabled: false, name: 'Ada' },
      ],
    ]);
    expect((await storage.find('cc-token', 'a'))?.consumedAt).toBe(now);
    expect(await storage.list('cc-token', {})).toHaveLength(6 + 1 + 1);
    // Spent, absent, or the successor's key taken: nothing changes.
    expect(await storage.consumeAndInsertIf('cc-token', 'a', successor('c'), live, now)).toBeUndefined();
    expect(await storage.consumeAndInsertIf('cc-token', 'missing', successor('c'), live, now)).toBeUndefined();
    expect(await storage.consumeAndInsertIf('cc-token', 't0', successor('t1'), live, now)).toBeUndefined();
    expect((await storage.find('cc-token', 't0'))?.consumedAt).toBeNull();
    // Inside a transaction: undone with it.
    await expect(
      storage.transaction(async (tx) => {
        expect(await tx.consumeAndInsertIf('cc-token', 't0', successor('f'), live, now)).toHaveLength(2);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect((await storage.find('cc-token', 't0'))?.consumedAt).toBeNull();
    expect(await storage.find('cc-token', 'f')).toBeUndefined();
    // A caller's mistake, not an outcome.
    await expect(storage.consumeAndInsertIf('cc-token', 't0', successor('g'), [], now)).rejects.toThrow(RangeError);
    await expect(storage.consumeAndInsertIf('cc-token', 't0', successor('g'), [live[0]!, live[0]!, live[0]!, live[0]!], now)).rejects.toThrow(
      RangeError,
    );
  });

  // SQLite runs one transaction at a time: nothing can commit while a spend waits for a lock.
  it.skipIf(backend !== 'postgres')('reads the linked records as committed after waiting for the lock of the record it spends', async () => {
    // A spends the token, holds its lock, then rolls back (as a refused refresh does). B spends
    // the same token meanwhile and waits for A. A revocation of the session commits during the
    // wait: B must see it (a single CTE statement would not: it reads from before the wait).
    await storage.insert({ kind: 'lk-session', id: 's', payload: { revoked: false } });
    await storage.insert({ kind: 'lk-token', id: 't', payload: { sessionId: 's' } });
    const a = heldTransaction((tx) => tx.consume('lk-token', 't'), 'rollback');
    await a.holding;
    const b = storage.consumeWithLinked<{ sessionId: string }>('lk-token', 't', [{ kind: 'lk-session', idField: 'sessionId' }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await storage.upsert({ kind: 'lk-session', id: 's', payload: { revoked: true } });
    a.release();
    expect(await a.done).toBe('rolled back');
    const spent = await b;
    expect(spent?.consumedNow).toBe(true);
    expect(spent?.linked[0]?.payload).toEqual({ revoked: true });
  });

  it('reads a record, spent or not, with the records its payload names, without spending it', async () => {
    const now = Date.now();
    const links = await storeLinkedRecords('fl', { family: 'F' });
    const payloads = (found: Awaited<ReturnType<Storage['findWithLinked']>>) => found?.linked.map((r) => r?.payload ?? null);
    const first = await storage.findWithLinked('fl-token', 't1', links);
    expect(first?.record).toMatchObject({ kind: 'fl-token', id: 't1', family: 'F', consumedAt: null, payload: { sessionId: 's1' } });
    expect(payloads(first)).toEqual(LINKED_PAYLOADS);
    expect((await storage.findWithLinked('fl-token', 't1', []))?.linked).toEqual([]);
    // Reading spends nothing; a spent record is still found, with its spending time.
    expect((await storage.consume('fl-token', 't1'))?.consumedNow).toBe(true);
    const spent = await storage.findWithLinked('fl-token', 't1', links);
    expect(spent?.record.consumedAt).toEqual(expect.any(Number));
    expect(payloads(spent)).toEqual(payloads(first));
    expect(payloads(await storage.transaction((tx) => tx.findWithLinked('fl-token', 't1', links)))).toEqual(payloads(first));
    expect(await storage.findWithLinked('fl-token', 'missing', links)).toBeUndefined();
    await storage.insert({ kind: 'fl-token', id: 'expired', payload: { sessionId: 's1' }, expiresAt: now - 1 });
    expect(await storage.findWithLinked('fl-token', 'expired', links)).toBeUndefined();
  });

  it('answers concurrent reads of records and what they name each as it would alone (PostgreSQL batches them)', async () => {
    const links = await storeLinkedRecords('cr');
    // A second token naming another session, one naming nothing, a spent one and an expired one.
    await storage.insert({ kind: 'cr-session', id: 's2', payload: { n: 'session 2' } });
    await storage.insert({ kind: 'cr-token', id: 't2', payload: { sessionId: 's2', userSid: 'u1' } });
    await storage.insert({ kind: 'cr-token', id: 't3', payload: {} });
    await storage.insert({ kind: 'cr-token', id: 'spent', payload: { sessionId: 's1' } });
    await storage.consume('cr-token', 'spent');
    await storage.insert({ kind: 'cr-token', id: 'expired', payload: { sessionId: 's1' }, expiresAt: Date.now() - 1 });
    const ids = ['t1', 't2', 'missing', 't3', 'spent', 'expired', 't1', "it's", 't2'];
    const shape = (found: Awaited<ReturnType<Storage['findWithLinked']>>) =>
      found && { id: found.record.id, spent: found.record.consumedAt !== null, linked: found.linked.map((r) => r?.payload ?? null) };
    const alone: unknown[] = [];
    for (const id of ids) alone.push(shape(await storage.findWithLinked('cr-token', id, links)));
    expect(alone[0]).toEqual({ id: 't1', spent: false, linked: LINKED_PAYLOADS });
    expect(alone[1]).toEqual({ id: 't2', spent: false, linked: [{ n: 'user' }, { n: 'session 2' }, null, null, null, null, null, { n: 'user' }] });
    expect(alone[4]).toMatchObject({ id: 'spent', spent: true });
    expect([alone[2], alone[5], alone[7]]).toEqual([undefined, undefined, undefined]);
    // Made in one tick: the first read goes alone, the rest wait for it and go together. Twice,
    // so that batches of every size from 1 up meet both lists of links.
    for (let round = 0; round < 2; round++) {
      const together = await Promise.all(
        ids.flatMap((id) => [storage.findWithLinked('cr-token', id, links), storage.findWithLinked('cr-token', id, links.slice(0, 2))]),
      );
      expect(together.filter((_, i) => i % 2 === 0).map(shape)).toEqual(alone);
      expect(together.filter((_, i) => i % 2 === 1).map((found) => shape(found)?.linked)).toEqual(
        alone.map((a) => (a as { linked: unknown[] } | undefined)?.linked.slice(0, 2)),
      );
    }
    // An id no record can have (PostgreSQL's text holds no NUL) finds nothing on either backend,
    // and the reads batched with it answer as they would alone.
    const withRefused = await Promise.allSettled(['t1', 't1', 'bad\u0000id', 't2'].map((id) => storage.findWithLinked('cr-token', id, links)));
    expect(withRefused.map((r) => (r.status === 'fulfilled' ? shape(r.value) : 'refused'))).toEqual([alone[0], alone[0], undefined, alone[1]]);
    // A read made after a change committed sees it, even while a read of the same record made
    // before the change is still in flight (batched reads share statements, never answers).
    const before = storage.findWithLinked('cr-token', 't2', links);
    await storage.upsert({ kind: 'cr-session', id: 's2', payload: { n: 'session 2', revoked: true } });
    const after = await storage.findWithLinked('cr-token', 't2', links);
    expect(after?.linked[1]?.payload).toEqual({ n: 'session 2', revoked: true });
    await before;
  });

  it('spends a record and stores its successor together, once, or changes nothing', async () => {
    const now = Date.now();
    const successor = (id: string) => ({ kind: 'ci-token', id, family: 'F', payload: { from: 'a' }, expiresAt: now + 60_000 });
    await storage.insert({ kind: 'ci-token', id: 'a', family: 'F', payload: {} });
    // Raced: exactly one spends it, and only its successor is stored.
    const results = await Promise.all(['b1', 'b2', 'b3', 'b4'].map((id) => storage.consumeAndInsert('ci-token', 'a', successor(id), now)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = ['b1', 'b2', 'b3', 'b4'][results.indexOf(true)]!;
    expect(await storage.find('ci-token', winner)).toMatchObject({ family: 'F', payload: { from: 'a' }, consumedAt: null, expiresAt: now + 60_000 });
    for (const id of ['b1', 'b2', 'b3', 'b4'].filter((id) => id !== winner)) expect(await storage.find('ci-token', id)).toBeUndefined();
    expect((await storage.find('ci-token', 'a'))?.consumedAt).toBe(now);
    // Spent, absent or expired: nothing stored.
    expect(await storage.consumeAndInsert('ci-token', 'a', successor('c'))).toBe(false);
    expect(await storage.consumeAndInsert('ci-token', 'missing', successor('c'))).toBe(false);
    await storage.insert({ kind: 'ci-token', id: 'expired', payload: {}, expiresAt: now - 1 });
    expect(await storage.consumeAndInsert('ci-token', 'expired', successor('c'))).toBe(false);
    expect(await storage.find('ci-token', 'c')).toBeUndefined();
    // The successor's key or lookup taken: the record stays unspent.
    await storage.insert({ kind: 'ci-token', id: 'd', payload: {} });
    await storage.insert({ kind: 'ci-token', id: 'taken', lookup: 'L', payload: { keep: true } });
    expect(await storage.consumeAndInsert('ci-token', 'd', successor('taken'))).toBe(false);
    expect(await storage.consumeAndInsert('ci-token', 'd', { ...successor('e'), lookup: 'L' })).toBe(false);
    expect((await storage.find('ci-token', 'd'))?.consumedAt).toBeNull();
    expect((await storage.find('ci-token', 'taken'))?.payload).toEqual({ keep: true });
    expect(await storage.find('ci-token', 'e')).toBeUndefined();
    // Inside a transaction: undone with it.
    await expect(
      storage.transaction(async (tx) => {
        expect(await tx.consumeAndInsert('ci-token', 'd', successor('f'))).toBe(true);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect((await storage.find('ci-token', 'd'))?.consumedAt).toBeNull();
    expect(await storage.find('ci-token', 'f')).toBeUndefined();
    // A taken successor inside a transaction: false, and the transaction goes on and commits.
    expect(
      await storage.transaction(async (tx) => {
        const stored = await tx.consumeAndInsert('ci-token', 'd', successor('taken'));
        await tx.insert({ kind: 'ci-token', id: 'after-taken', payload: {} });
        return stored;
      }),
    ).toBe(false);
    expect(await storage.find('ci-token', 'after-taken')).toBeDefined();
    expect((await storage.find('ci-token', 'd'))?.consumedAt).toBeNull();
    expect(await storage.transaction((tx) => tx.consumeAndInsert('ci-token', 'd', successor('f')))).toBe(true);
    expect(await storage.find('ci-token', 'f')).toBeDefined();
  });

  // SQLite runs one transaction at a time: nothing can commit while a spend waits for a lock.
  it.skipIf(backend !== 'postgres')('spends nothing when another spend of the record commits while it waits for the lock', async () => {
    for (const outcome of ['commit', 'rollback'] as const) {
      const id = `w-${outcome}`;
      await storage.insert({ kind: 'cw-token', id, payload: {} });
      const a = heldTransaction((tx) => tx.consume('cw-token', id), outcome);
      await a.holding;
      const b = storage.consumeAndInsert('cw-token', id, { kind: 'cw-token', id: `${id}-next`, payload: {} });
      await new Promise((resolve) => setTimeout(resolve, 100));
      a.release();
      await a.done;
      expect({ outcome, stored: await b }).toEqual({ outcome, stored: outcome === 'rollback' });
      expect(Boolean(await storage.find('cw-token', `${id}-next`))).toBe(outcome === 'rollback');
    }
  });

  it.skipIf(backend !== 'postgres')(
    'answers false, inside a transaction that goes on, when the successor is stored by another while it waits',
    async () => {
      await storage.insert({ kind: 'cs-token', id: 'r', payload: {} });
      // A stores the successor's key and holds it uncommitted; B's INSERT waits on the key, then fails (23505).
      const a = heldTransaction((tx) => tx.insert({ kind: 'cs-token', id: 'r-next', payload: { by: 'a' } }));
      await a.holding;
      const b = storage.transaction(async (tx) => {
        const stored = await tx.consumeAndInsert('cs-token', 'r', { kind: 'cs-token', id: 'r-next', payload: { by: 'b' } });
        await tx.insert({ kind: 'cs-token', id: 'b-went-on', payload: {} });
        return stored;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      a.release();
      await a.done;
      expect(await b).toBe(false);
      expect((await storage.find('cs-token', 'r-next'))?.payload).toEqual({ by: 'a' });
      expect((await storage.find('cs-token', 'r'))?.consumedAt).toBeNull();
      expect(await storage.find('cs-token', 'b-went-on')).toBeDefined();
    },
  );

  it('hides and sweeps expired records', async () => {
    await storage.insert({ kind: 'e', id: 'old', payload: {}, expiresAt: Date.now() - 1 });
    await storage.insert({ kind: 'e', id: 'new', payload: {}, expiresAt: Date.now() + 60_000 });
    expect(await storage.find('e', 'old')).toBeUndefined();
    expect(await storage.consume('e', 'old')).toBeUndefined();
    expect(await storage.sweepExpired()).toBeGreaterThanOrEqual(1);
    expect((await storage.list('e')).map((r) => r.id)).toEqual(['new']);
  });

  it('keeps, refuses and finds alike on every backend what one of them cannot keep as sent: keys refused with a 400, payload text with U+FFFD', async () => {
    const refused = async (record: Parameters<Storage['insert']>[0]) => {
      const error = (await storage.insert(record).then(
        () => undefined,
        (thrown: unknown) => thrown,
      )) as UnstorableValueError | undefined;
      expect(error).toBeInstanceOf(UnstorableValueError);
      expect(error!.status).toBe(400);
      return error!.detail;
    };
    expect(await refused({ kind: 'u', id: 'nul\u0000id', payload: {} })).toBe('an identifier holds a NUL character (U+0000)');
    expect(await refused({ kind: 'u', id: 'lone', lookup: 'a\ud800b', payload: {} })).toMatch(/unpaired UTF-16 surrogate/);
    // Past PostgreSQL's index entry (2,704 bytes), and incompressible, which a repeated letter is not.
    const long = Array.from({ length: 2100 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');
    expect(await refused({ kind: 'u', id: 'long', lookup: long, payload: {} })).toMatch(
      /^an identifier is 6,300 bytes long in UTF-8 \(at most 2,048\)$/,
    );
    for (const id of ['nul\u0000id', 'lone', 'long']) expect(await storage.find('u', id)).toBeUndefined();
    // Payload text: each NUL or unpaired surrogate, in values and keys, becomes U+FFFD; a paired
    // surrogate (an emoji) and the text of an escape (a backslash, then u0000) stay as they are.
    const sent = { fullName: 'Ada\u0000', attributes: { 'http://x/claims': ['ok', '\udc00', 'x\ud800'] }, a: { ['k\u0000']: 1 } };
    const kept = { fullName: 'Ada\ufffd', attributes: { 'http://x/claims': ['ok', '\ufffd', 'x\ufffd'] }, a: { ['k\ufffd']: 1 } };
    expect(await storage.insert({ kind: 'u', id: 'p1', payload: sent })).toBe(true);
    expect((await storage.find('u', 'p1'))?.payload).toEqual(kept);
    await storage.upsert({ kind: 'u', id: 'p1', payload: { ...sent, fullName: '\ud83d' } });
    expect((await storage.find('u', 'p1'))?.payload).toEqual({ ...kept, fullName: '\ufffd' });
    const fine = { emoji: '\u{1F600}', text: '\\u0000 and \\ud800', quote: 'a\\\\u0000', both: '\\\u0000' };
    expect(await storage.insert({ kind: 'u', id: 'fine', payload: fine })).toBe(true);
    expect((await storage.find('u', 'fine'))?.payload).toEqual({ ...fine, both: '\\\ufffd' });
    // Reads under a key no record can have find nothing (PostgreSQL would fail on the NUL).
    expect(await storage.find('u', 'fine\u0000')).toBeUndefined();
    expect(await storage.findByLookup('u', 'a\u0000')).toBeUndefined();
    expect(await storage.consume('u', 'fine\u0000')).toBeUndefined();
    expect(
      await storage.findMany([
        { kind: 'u', id: 'fine' },
        { kind: 'u', id: 'x\u0000' },
        { kind: 'u', id: 'fine' },
      ]),
    ).toMatchObject([{ id: 'fine' }, undefined, { id: 'fine' }]);
    expect(await storage.list('u', { accountSid: 'A\u0000' })).toEqual([]);
    expect(await storage.destroy('u', 'fine\u0000')).toBe(false);
    expect(await storage.consumeAndInsert('u', 'fine\u0000', { kind: 'u', id: 'next', payload: {} })).toBe(false);
    await expect(storage.consumeAndInsert('u', 'fine', { kind: 'u', id: 'next\u0000', payload: {} })).rejects.toBeInstanceOf(UnstorableValueError);
    expect((await storage.find('u', 'fine'))?.consumedAt).toBeNull();
  });

  it.runIf(backend === 'sqlite')('updates a record a release before these checks stored with a NUL (a revocation must not fail on it)', async () => {
    await storage.close();
    const raw = new Database(db.url.slice('sqlite:'.length));
    raw
      .prepare(`INSERT INTO records (kind, id, payload, created_at) VALUES ('session', 'old', ?, 0)`)
      .run(JSON.stringify({ acr: 'urn:x\u0000', revoked: false }));
    raw.close();
    storage = await openStorage(db.url);
    const old = await storage.find<{ acr: string; revoked: boolean }>('session', 'old');
    expect(old?.payload.acr).toBe('urn:x\u0000');
    // The payload as read (with its NUL) is what is stored: a compare-and-set on it lands.
    expect(await storage.replace({ kind: 'session', id: 'old', payload: { ...old!.payload, revoked: true } }, { ifPayload: old!.payload })).toBe(
      true,
    );
    expect((await storage.find('session', 'old'))?.payload).toEqual({ acr: 'urn:x\ufffd', revoked: true });
  });

  it('lists by account and family, newest first with a limit', async () => {
    for (let i = 0; i < 5; i++)
      await storage.insert({ kind: 'l', id: `r${i}`, accountSid: i % 2 ? 'A' : 'B', family: 'F', payload: { i }, createdAt: 1000 + i });
    expect((await storage.list('l', { accountSid: 'A' })).map((r) => r.id)).toEqual(['r1', 'r3']);
    expect((await storage.list('l', { family: 'F', newestFirst: true, limit: 2 })).map((r) => r.id)).toEqual(['r4', 'r3']);
  });

  it('rolls a failed transaction back and keeps others out of it', async () => {
    await expect(
      storage.transaction(async (tx) => {
        await tx.insert({ kind: 't', id: 'rolled-back', payload: {} });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await storage.find('t', 'rolled-back')).toBeUndefined();

    // Read-modify-write under concurrency: no increment is lost.
    await storage.insert({ kind: 't', id: 'counter', payload: { n: 0 } });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        storage.transaction(async (tx) => {
          const current = await tx.find<{ n: number }>('t', 'counter', { forUpdate: true });
          await tx.upsert({ kind: 't', id: 'counter', payload: { n: current!.payload.n + 1 } });
        }),
      ),
    );
    expect((await storage.find<{ n: number }>('t', 'counter'))!.payload.n).toBe(10);
  });

  it('survives reopening: migrations run once', async () => {
    const again = await openStorage(db.url + urlSuffix);
    expect(await again.ping()).toBe(true);
    expect((await again.find<{ n: number }>('k', 'a'))?.payload.n).toBe(1);
    await again.close();
  });
});

/** Runs `sql` on the test database outside Lanyard (in its schema on PostgreSQL); the rows of the last statement. */
async function rawQuery<T>(backend: Backend, db: TestDatabase, sql: string): Promise<T[]> {
  if (backend === 'sqlite') {
    const raw = new Database(db.url.slice('sqlite:'.length));
    try {
      const statements = sql.split(';').filter((part) => part.trim());
      for (const statement of statements.slice(0, -1)) raw.exec(statement);
      const last = raw.prepare(statements.at(-1)!);
      return last.reader ? (last.all() as T[]) : (last.run(), []);
    } finally {
      raw.close();
    }
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = ${new URL(db.url).searchParams.get('schema')!}`);
    const results = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
    return (Array.isArray(results) ? results.at(-1)! : results).rows as T[];
  } finally {
    await client.end();
  }
}

describe.each(BACKENDS)('storage on %s after close()', (backend) => {
  it('answers every call with StorageUnavailableError (a 503) naming the shutdown, never a TypeError; ping is false and close again is harmless', async () => {
    const db = await createTestDatabase(backend);
    const storage = await openStorage(db.url);
    await storage.insert({ kind: 'k', id: 'a', payload: {} });
    await storage.close();
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['find', () => storage.find('k', 'a')],
        ['insert', () => storage.insert({ kind: 'k', id: 'b', payload: {} })],
        ['replace', () => storage.replace({ kind: 'k', id: 'a', payload: { n: 1 } })],
        ['list', () => storage.list('k')],
        ['consumeAndInsert', () => storage.consumeAndInsert('k', 'a', { kind: 'k', id: 'c', payload: {} })],
        ['findWithLinked', () => storage.findWithLinked('k', 'a', [])],
        ['transaction', () => storage.transaction((tx) => tx.find('k', 'a'))],
        ['sweepExpired', () => storage.sweepExpired()],
      ];
      for (const [name, call] of calls) {
        const outcome = await call().then(
          () => 'resolved',
          (error: Error) => `${error.constructor.name}: ${error.message}`,
        );
        expect(outcome, name).toBe(
          'StorageUnavailableError: The database is unavailable: this node is shutting down and has closed its database connection; send the request again (to another node)',
        );
      }
      expect(await storage.ping()).toBe(false);
      await expect(storage.close()).resolves.toBeUndefined();
    } finally {
      await db.drop();
    }
  });
});

describe('migration 3: no records_family index', () => {
  it.each(BACKENDS)('on %s, drops it from a database that had it and records the migration once', async (backend) => {
    const db = await createTestDatabase(backend);
    const indexes = async () =>
      (
        await rawQuery<{ name: string }>(
          backend,
          db,
          backend === 'sqlite'
            ? `SELECT name FROM sqlite_master WHERE type = 'index'`
            : `SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()`,
        )
      ).map((r) => r.name);
    const versions = async () =>
      (await rawQuery<{ version: number }>(backend, db, `SELECT version FROM lanyard_migrations ORDER BY version`)).map((r) => r.version);
    try {
      await (await openStorage(db.url)).close();
      expect(await versions()).toEqual([1, 2, 3, 4]);
      expect(await indexes()).not.toContain('records_family');
      // Back to a database an earlier release left: migrations 1 and 2, the index in place.
      await rawQuery(
        backend,
        db,
        `CREATE INDEX records_family ON records (family) WHERE family IS NOT NULL; DELETE FROM lanyard_migrations WHERE version = 3`,
      );
      expect(await indexes()).toContain('records_family');
      const storage = await openStorage(db.url);
      await storage.insert({ kind: 'k', id: 'a', family: 'F', payload: {} });
      expect((await storage.list('k', { family: 'F' })).map((r) => r.id)).toEqual(['a']);
      await storage.close();
      expect(await indexes()).not.toContain('records_family');
      expect(await versions()).toEqual([1, 2, 3, 4]);
    } finally {
      await db.drop();
    }
  });
});

describe('migration 4: user-case-variants records', () => {
  it.each(BACKENDS)('on %s, marks the accounts holding a user whose e-mail-form id may not be in lower case, and only those', async (backend) => {
    const db = await createTestDatabase(backend);
    try {
      const storage = await openStorage(db.url);
      const user = (accountSid: string, sid: string, uniqueId: string) =>
        storage.insert({ kind: 'user', id: sid, accountSid, lookup: `${accountSid}:${uniqueId}`, payload: { sid, accountSid, uniqueId } });
      await user('ACcapital', 'FU1', 'Grace@Example.com');
      await user('ACcapital', 'FU2', 'grace.h@example.com');
      await user('ACbeyondAscii', 'FU3', 'zoë@example.com');
      await user('ACgreek', 'FU6', 'ΑΣ@example.gr');
      await user('ACfullWidth', 'FU7', 'Ｊ@example.com');
      await user('AClower', 'FU4', 'ada@example.com');
      await user('ACpersistent', 'FU5', '00uAbC9Xq');
      await storage.close();
      // An id with a NUL, which a release before storable-values.ts stored on SQLite (PostgreSQL never could).
      if (backend === 'sqlite') {
        const raw = new Database(db.url.slice('sqlite:'.length));
        const uniqueId = 'ab\u0000C@example.com';
        raw
          .prepare(`INSERT INTO records (kind, id, account_sid, lookup, payload, created_at) VALUES ('user', 'FU8', 'ACnul', ?, ?, 0)`)
          .run(`ACnul:${uniqueId}`, JSON.stringify({ sid: 'FU8', accountSid: 'ACnul', uniqueId }));
        raw.close();
      }
      // The database as a release before migration 4 left it.
      await rawQuery(backend, db, `DELETE FROM records WHERE kind = 'user-case-variants'; DELETE FROM lanyard_migrations WHERE version = 4`);
      const upgraded = await openStorage(db.url);
      try {
        const marked = ['ACbeyondAscii', 'ACcapital', 'ACfullWidth', 'ACgreek', ...(backend === 'sqlite' ? ['ACnul'] : [])];
        expect((await upgraded.list('user-case-variants')).map((r) => r.id).sort()).toEqual(marked.sort());
      } finally {
        await upgraded.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('PostgreSQL migration lock', () => {
  it.runIf(BACKENDS.includes('postgres'))('is taken per schema, and not at all by a start with nothing to migrate', async () => {
    const migrated = await createTestDatabase('postgres');
    const fresh = await createTestDatabase('postgres');
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await (await openStorage(migrated.url)).close();
      // Another start holds the lock of both schemas (a migration waiting for a pg_dump, say).
      const schemaOf = (url: string) => new URL(url).searchParams.get('schema')!;
      for (const url of [migrated.url, fresh.url])
        await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [`lanyard_migrations:${schemaOf(url)}`]);
      // Nothing to migrate: opens at once.
      await (await openStorage(migrated.url)).close();
      // A fresh schema waits for its own lock only: free another schema's, it still waits.
      let opened = false;
      const opening = openStorage(fresh.url).then((storage) => {
        opened = true;
        return storage;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(opened).toBe(false);
      await holder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`lanyard_migrations:${schemaOf(fresh.url)}`]);
      await (await opening).close();
      expect(opened).toBe(true);
    } finally {
      await holder.end();
      await migrated.drop();
      await fresh.drop();
    }
  });
});

describe('PostgreSQL pool exhausted', () => {
  it.runIf(BACKENDS.includes('postgres'))(
    'answers unavailable (503), not an internal error, when no connection frees within the wait; batched reads too',
    async () => {
      const db = await createTestDatabase('postgres');
      const { PostgresStorage } = await import('./postgres.ts');
      const { StorageUnavailableError } = await import('../errors.ts');
      const storage = await PostgresStorage.open({
        connectionString: POSTGRES_URL,
        schema: new URL(db.url).searchParams.get('schema')!,
        maxConnections: 1,
      });
      let release!: () => void;
      const held = storage.transaction(() => new Promise<void>((resolve) => (release = resolve)));
      try {
        const outcomes = await Promise.allSettled([
          storage.find('k', 'a'),
          storage.findWithLinked('k', 'a', []),
          storage.findWithLinked('k', 'b', []),
          storage.findWithLinked('k', 'c', []),
        ]);
        const first = outcomes[0]!;
        expect(first.status === 'rejected' && (first.reason as Error).message).toMatch(
          /^The database is unavailable: no connection of this node's PostgreSQL pool came free within 5 s .*pg_stat_activity/,
        );
        expect(outcomes.map((o) => (o.status === 'rejected' && o.reason instanceof StorageUnavailableError ? 'unavailable' : o.status))).toEqual([
          'unavailable',
          'unavailable',
          'unavailable',
          'unavailable',
        ]);
      } finally {
        release();
        await held;
        await storage.close();
        await db.drop();
      }
    },
    30_000,
  );
});

describe('PostgreSQL statements that wait too long', () => {
  const onPostgres = it.runIf(BACKENDS.includes('postgres'));
  const schemaOf = (url: string) => new URL(url).searchParams.get('schema')!;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** How a promise settled within `ms`: its value, its error's class and message, or 'still waiting'. */
  async function settledWithin(ms: number, promise: Promise<unknown>) {
    const started = Date.now();
    const outcome = await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.constructor.name, message: error.message }),
      ),
      sleep(ms).then(() => 'still waiting' as const),
    ]);
    return { outcome, ms: Date.now() - started };
  }

  onPostgres(
    'a statement waiting for a lock another session holds ends at statement_timeout: 503 naming the lock, never a hang; the connection serves the next one',
    async () => {
      const db = await createTestDatabase('postgres');
      const storage = await openStorage(`${db.url}&statement_timeout=400`);
      const holder = new pg.Client({ connectionString: POSTGRES_URL });
      await holder.connect();
      try {
        await storage.insert({ kind: 'k', id: 'locked', payload: { n: 1 } });
        // Another session (a manual edit in psql, a long transaction) holds the row.
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM ${schemaOf(db.url)}.records WHERE kind = 'k' AND id = 'locked' FOR UPDATE`);
        const alone = await settledWithin(5000, storage.replace({ kind: 'k', id: 'locked', payload: { n: 2 } }));
        const inTransaction = await settledWithin(
          5000,
          storage.transaction((tx) => tx.replace({ kind: 'k', id: 'locked', payload: { n: 3 } })),
        );
        for (const { outcome, ms } of [alone, inTransaction]) {
          expect(outcome).toMatchObject({
            error: 'StorageUnavailableError',
            message: expect.stringMatching(
              /PostgreSQL cancelled a statement \(canceling statement due to statement timeout\): it waited for a lock another session holds .*pg_locks and pg_stat_activity.*statement_timeout parameter of LANYARD_DATABASE_URL/,
            ),
          });
          expect(ms).toBeGreaterThanOrEqual(350);
          expect(ms).toBeLessThan(4000);
        }
        await holder.query('ROLLBACK');
        expect(await storage.replace({ kind: 'k', id: 'locked', payload: { n: 4 } })).toBe(true);
        expect((await storage.find('k', 'locked'))?.payload).toEqual({ n: 4 });
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
        await storage.close();
        await db.drop();
      }
    },
    30_000,
  );

  onPostgres(
    'a server that stops answering (a failover, a partition): the statement fails at query_timeout with a 503 naming it; the idle connections are dropped with it, so the next runs on a new one at once',
    async () => {
      const { TcpProxy } = await import('../../../../test/cluster/support/tcp-proxy.ts');
      const db = await createTestDatabase('postgres');
      const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const storage = await openStorage(`${url}&statement_timeout=300&query_timeout=1000`);
      try {
        await storage.insert({ kind: 'k', id: 'a', payload: { n: 1 } });
        // Several connections open and idle: none of them may cost the next request another wait.
        const overlapping = () => storage.transaction(async (tx) => (await tx.find('k', 'a'), await sleep(100)));
        const silence = () => expect(proxy.blackHole()).toBeGreaterThanOrEqual(4);
        for (const [name, attempt] of [
          ['a statement', () => (silence(), storage.find('k', 'a'))],
          ['a batched read', () => (silence(), storage.findWithLinked('k', 'a', []))],
          ['BEGIN', () => (silence(), storage.transaction((tx) => tx.find('k', 'a')))],
          // Silent after BEGIN was answered: the statement inside times out, and no ROLLBACK waits after it.
          ['a statement inside a transaction', () => storage.transaction(async (tx) => (await tx.find('k', 'a'), silence(), tx.find('k', 'a')))],
        ] as const) {
          await Promise.all([overlapping(), overlapping(), overlapping(), overlapping()]);
          // The pool's open connections now lead nowhere: no answer, no reset.
          const { outcome, ms } = await settledWithin(6000, attempt());
          expect(outcome).toMatchObject({
            error: 'StorageUnavailableError',
            message: expect.stringMatching(
              /PostgreSQL did not answer a statement within query_timeout: the server or the network to it stopped responding .*The connection was dropped and the request can be retried; the limit is the query_timeout parameter of LANYARD_DATABASE_URL/,
            ),
          });
          // Once, not twice: a transaction does not wait as long again for a ROLLBACK on that connection.
          expect(ms, name).toBeGreaterThanOrEqual(950);
          expect(ms, name).toBeLessThan(1900);
          expect((await settledWithin(4000, storage.find('k', 'a'))).outcome).toMatchObject({ value: { payload: { n: 1 } } });
        }
      } finally {
        await storage.close();
        await proxy.close();
        await db.drop();
      }
    },
    30_000,
  );

  onPostgres('a transaction left idle past idle_in_transaction_session_timeout is ended by the server: 503, and the next one works', async () => {
    const db = await createTestDatabase('postgres');
    const storage = await openStorage(`${db.url}&idle_in_transaction_session_timeout=300`);
    try {
      const stalled = storage.transaction(async (tx) => {
        await tx.insert({ kind: 'k', id: 'stalled', payload: {} });
        await sleep(900); // a node stopped between two statements, holding its locks
        return tx.insert({ kind: 'k', id: 'after', payload: {} });
      });
      expect((await settledWithin(5000, stalled)).outcome).toMatchObject({ error: 'StorageUnavailableError' });
      expect(await storage.find('k', 'stalled')).toBeUndefined();
      expect(await storage.insert({ kind: 'k', id: 'next', payload: {} })).toBe(true);
    } finally {
      await storage.close();
      await db.drop();
    }
  });

  onPostgres("migrations are not held to statement_timeout or lock_timeout: a start waiting for another node's migration waits it out", async () => {
    const db = await createTestDatabase('postgres');
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [`lanyard_migrations:${schemaOf(db.url)}`]);
      const opening = openStorage(`${db.url}&statement_timeout=100&lock_timeout=100`);
      await sleep(600);
      await holder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`lanyard_migrations:${schemaOf(db.url)}`]);
      const storage = await opening;
      expect(await storage.insert({ kind: 'k', id: 'a', payload: {} })).toBe(true);
      await storage.close();
    } finally {
      await holder.end();
      await db.drop();
    }
  });

  onPostgres('the sweep deletes every expired record in batches and keeps the rest', async () => {
    const db = await createTestDatabase('postgres');
    const storage = await openStorage(db.url);
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const now = Date.now();
      // More than one batch (5,000) of expired records, some live ones among them.
      await client.query(
        `INSERT INTO ${schemaOf(db.url)}.records (kind, id, payload, created_at, expires_at)
         SELECT 'k', 'gone' || i, '{}'::jsonb, $1::bigint, $1::bigint - 1 FROM generate_series(1, 12003) AS i`,
        [now],
      );
      await storage.insert({ kind: 'k', id: 'live', payload: {}, expiresAt: now + 60_000 });
      await storage.insert({ kind: 'k', id: 'forever', payload: {} });
      expect(await storage.sweepExpired(now)).toBe(12003);
      const left = await client.query(`SELECT id FROM ${schemaOf(db.url)}.records ORDER BY id`);
      expect(left.rows.map((r: { id: string }) => r.id)).toEqual(['forever', 'live']);
    } finally {
      await client.end();
      await storage.close();
      await db.drop();
    }
  });
});

describe('LANYARD_DATABASE_URL timeouts', () => {
  it.each([
    [
      'statement_timeout=ten',
      /statement_timeout must be a whole number of milliseconds from 0 \(none: the role's own applies\) to 86400000 \(a day\), e\.g\. statement_timeout=30000; got "ten"/,
    ],
    ['query_timeout=-1', /query_timeout must be a whole number of milliseconds/],
    ['idle_in_transaction_session_timeout=1.5', /idle_in_transaction_session_timeout must be a whole number of milliseconds/],
    ['statement_timeout=86400001', /statement_timeout must be a whole number of milliseconds from 0 .* to 86400000 \(a day\)/],
    ['statement_timeout=2147483647', /statement_timeout must be a whole number of milliseconds from 0 .* to 86400000 \(a day\)/],
    ['lock_timeout=abc', /lock_timeout must be a whole number of milliseconds/],
    ['lock_timeout=5s', /lock_timeout must be a whole number of milliseconds .*; got "5s"/],
    ['lock_timeout=100&lock_timeout=junk', /lock_timeout is given more than once/],
    [
      'connect_timeout=20',
      /connect_timeout is not a parameter Lanyard reads; the timeouts are statement_timeout, query_timeout, idle_in_transaction_session_timeout, lock_timeout \(milliseconds\)/,
    ],
    ['options=-c%20work_mem%3D64MB', /options is not accepted: Lanyard sets the connection's options itself/],
    [
      'statement_timeout=20000&query_timeout=15000',
      /query_timeout \(15000\) must be longer than statement_timeout \(20000\): the server's own limit must end a statement first.*set query_timeout=0 for none/,
    ],
    ['query_timeout=10000', /query_timeout \(10000\) must be longer than statement_timeout \(10000, the default\)/],
    [
      'statement_timeout=0&query_timeout=1500',
      /query_timeout \(1500\) needs a statement_timeout shorter than it: with statement_timeout=0 a statement waiting for a lock/,
    ],
    [
      'statement_timeout_ms=1000',
      /statement_timeout_ms is not a parameter Lanyard reads; the timeouts are statement_timeout, query_timeout, idle_in_transaction_session_timeout, lock_timeout \(milliseconds\)/,
    ],
    ['statementTimeout=1000', /statementTimeout is not a parameter Lanyard reads/],
    ['statement_timeout=1000&statement_timeout=2000', /statement_timeout is given more than once/],
    // The schema's rule, stated (the parameter order does not matter).
    [
      'schema=Trial-X',
      /Invalid PostgreSQL schema name "Trial-X": use lowercase letters, digits and _, not starting with a digit, at most 63 characters/,
    ],
  ])('refuses %s, naming the fix (a configuration error naming the variable)', async (parameter, message) => {
    const refusal = openStorage(`${POSTGRES_URL}?sslmode=disable&${parameter.startsWith('schema=') ? '' : 'schema=t_never&'}${parameter}`);
    await expect(refusal).rejects.toThrow(message);
    await expect(refusal).rejects.toThrow(/^Invalid configuration:\n {2}LANYARD_DATABASE_URL \(/);
    await expect(refusal).rejects.toBeInstanceOf(ConfigError);
  });

  it.runIf(BACKENDS.includes('postgres'))(
    "sets each on the pool's connections: 10 s and 60 s by default, 0 for the server's own; application_name lanyard",
    async () => {
      const db = await createTestDatabase('postgres');
      /** What the server applies to a connection of the pool (read through the pool itself). */
      const settingsOf = async (url: string) => {
        const storage = await openStorage(url);
        try {
          const pool = (storage as unknown as { pool: pg.Pool }).pool;
          const row = await pool.query<Record<string, string>>(
            `SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle,
                    current_setting('lock_timeout') AS lock, current_setting('application_name') AS name`,
          );
          return row.rows[0];
        } finally {
          await storage.close();
        }
      };
      try {
        expect(await settingsOf(db.url)).toEqual({ statement: '10s', idle: '1min', lock: '0', name: 'lanyard' });
        expect(
          await settingsOf(`${db.url}&statement_timeout=2500&idle_in_transaction_session_timeout=0&lock_timeout=700&application_name=desk`),
        ).toEqual({ statement: '2500ms', idle: '0', lock: '700ms', name: 'desk' });
      } finally {
        await db.drop();
      }
    },
  );
});

describe('PostgreSQL migration warnings', () => {
  it.runIf(BACKENDS.includes('postgres'))('warn of the wait for open transactions when upgrading a schema, not when creating one', async () => {
    const db = await createTestDatabase('postgres');
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const fresh: string[] = [];
      await (await openStorage(db.url, { onWarning: (message) => fresh.push(message) })).close();
      expect(fresh).toEqual([]);
      // The schema as the release before migration 3 left it.
      const schema = new URL(db.url).searchParams.get('schema')!;
      await admin.query(`DELETE FROM ${schema}.lanyard_migrations WHERE version = 3`);
      const upgrade: string[] = [];
      await (await openStorage(db.url, { onWarning: (message) => upgrade.push(message) })).close();
      expect(upgrade).toEqual([expect.stringMatching(/^applying migration 3 \(.+\) to schema .+: it waits for transactions already open/)]);
    } finally {
      await admin.end();
      await db.drop();
    }
  });
});

describe('PostgreSQL prepared statements during a rolling upgrade', () => {
  it.runIf(BACKENDS.includes('postgres'))('keep working on a running node after another node adds a column to records', async () => {
    const db = await createTestDatabase('postgres');
    const storage = await openStorage(db.url);
    const other = new pg.Client({ connectionString: POSTGRES_URL });
    try {
      await storage.insert({ kind: 'k', id: 'a', payload: { n: 1 } });
      // Every pool connection has prepared the statements by now (find, insert, consume…).
      await Promise.all(Array.from({ length: 12 }, () => storage.find('k', 'a')));
      await other.connect();
      const schema = new URL(db.url).searchParams.get('schema')!;
      await other.query(`ALTER TABLE ${schema}.records ADD COLUMN added_by_a_later_migration TEXT`);
      const found = await Promise.all(Array.from({ length: 12 }, () => storage.find<{ n: number }>('k', 'a')));
      expect(found.map((r) => r?.payload.n)).toEqual(Array(12).fill(1));
      expect(await storage.insert({ kind: 'k', id: 'b', payload: { n: 2 } })).toBe(true);
      expect((await storage.consume<{ n: number }>('k', 'b'))?.record.payload.n).toBe(2);
    } finally {
      await other.end();
      await storage.close();
      await db.drop();
    }
  });
});

describe('PostgreSQL prepared statements gone stale under a running node', () => {
  /** Opens a storage, prepares every statement on every pool connection, then runs `change` from another connection. */
  async function staleAfter(change: (schema: string, pool: pg.Pool) => Promise<void>) {
    const db = await createTestDatabase('postgres');
    const storage = await openStorage(db.url);
    await storage.insert({ kind: 'k', id: 'a', payload: { n: 1 } });
    // Ten transactions at once: each of the pool's ten connections prepares find FOR UPDATE and consume.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        storage.transaction(async (tx) => [await tx.find('k', 'a', { forUpdate: true }), await tx.consume('k', 'none')]),
      ),
    );
    await Promise.all(Array.from({ length: 10 }, () => storage.find('k', 'a')));
    await change(new URL(db.url).searchParams.get('schema')!, (storage as unknown as { pool: pg.Pool }).pool);
    return { storage, db };
  }

  it.runIf(BACKENDS.includes('postgres'))(
    'another node changes a column type: reads outside a transaction go on, a transaction fails once as unavailable (503), then every connection works',
    async () => {
      const { storage, db } = await staleAfter(async (schema) => {
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        // A plausible later migration: byte-order collation on the key (faster comparisons).
        await admin.query(`ALTER TABLE ${schema}.records ALTER COLUMN id TYPE TEXT COLLATE "C"`);
        await admin.end();
      });
      try {
        // Was: "cached plan must not change result type" (a 500) on every call, forever, on every
        // connection a transaction had used: the pool hands the same connection out again.
        expect((await storage.find<{ n: number }>('k', 'a'))?.payload.n).toBe(1);
        const outcomes: string[] = [];
        for (let i = 0; i < 12; i++) {
          outcomes.push(
            await storage
              .transaction(async (tx) => (await tx.find<{ n: number }>('k', 'a', { forUpdate: true }))?.payload.n)
              .then(
                (n) => `ok ${n}`,
                (error: Error) => error.constructor.name,
              ),
          );
        }
        expect(outcomes.filter((o) => o !== 'ok 1').every((o) => o === 'StorageUnavailableError')).toBe(true);
        expect(outcomes.filter((o) => o !== 'ok 1').length).toBeLessThanOrEqual(1);
        const all = await Promise.all(Array.from({ length: 10 }, () => storage.transaction((tx) => tx.consume('k', 'none'))));
        expect(all).toEqual(Array(10).fill(undefined));
      } finally {
        await storage.close();
        await db.drop();
      }
    },
  );

  it.runIf(BACKENDS.includes('postgres'))(
    'DEALLOCATE ALL on a connection (a pooler resetting it): the node recovers instead of failing on it forever',
    async () => {
      const { storage, db } = await staleAfter(async (_schema, pool) => {
        const clients = await Promise.all(Array.from({ length: 10 }, () => pool.connect()));
        await Promise.all(clients.map((client) => client.query('DEALLOCATE ALL')));
        clients.forEach((client) => client.release());
      });
      try {
        expect((await storage.find<{ n: number }>('k', 'a'))?.payload.n).toBe(1);
        const outcomes: string[] = [];
        for (let i = 0; i < 24; i++) {
          outcomes.push(
            await storage
              .transaction((tx) => tx.find('k', 'a', { forUpdate: true }))
              .then(
                () => 'ok',
                (error: Error) => error.constructor.name,
              ),
          );
        }
        // Each reset connection may fail one transaction (a 503 the client retries), never more.
        expect(outcomes.filter((o) => o !== 'ok').every((o) => o === 'StorageUnavailableError')).toBe(true);
        expect(outcomes.slice(12)).toEqual(Array(12).fill('ok'));
      } finally {
        await storage.close();
        await db.drop();
      }
    },
  );
});

describe('LANYARD_DATABASE_URL near misses', () => {
  it.each([
    ['prepared_statement=false', /prepared_statement is not a parameter Lanyard reads; did you mean prepared_statements=false\?/],
    ['search_path=lanyard', /search_path is not a parameter Lanyard reads; did you mean schema=<name>\?/],
    ['Schema=lanyard', /Schema is not a parameter Lanyard reads; did you mean schema=<name>\?/],
  ])('refuses %s, naming the parameter it meant', async (parameter, message) => {
    await expect(openStorage(`${POSTGRES_URL}?${parameter}`)).rejects.toThrow(message);
  });
});

describe('LANYARD_DATABASE_URL prepared_statements', () => {
  it('accepts true or false only, naming the variable', async () => {
    await expect(openStorage(`${POSTGRES_URL}?schema=t_never&prepared_statements=off`)).rejects.toThrow(
      /LANYARD_DATABASE_URL .*prepared_statements must be true or false/s,
    );
  });

  it('names the mistake when the parameter follows the database name with "&" instead of "?"', async () => {
    await expect(openStorage(`${POSTGRES_URL}&prepared_statements=false`)).rejects.toThrow(/LANYARD_DATABASE_URL .*parameters go after "\?"/s);
  });

  it('refuses prepared_statements (or schema) given twice instead of silently taking the first', async () => {
    await expect(openStorage(`${POSTGRES_URL}?schema=t_never&prepared_statements=false&prepared_statements=true`)).rejects.toThrow(
      /LANYARD_DATABASE_URL .*prepared_statements is given more than once/s,
    );
    await expect(openStorage(`${POSTGRES_URL}?schema=t_never&schema=t_never_either`)).rejects.toThrow(
      /LANYARD_DATABASE_URL .*schema is given more than once/s,
    );
  });
});
