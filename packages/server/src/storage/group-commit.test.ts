import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../errors.ts';
import { GroupCommit } from './group-commit.ts';
import { SqliteStorage } from './sqlite.ts';

const dirs: string[] = [];
function databaseFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-group-commit-'));
  dirs.push(dir);
  return join(dir, 'lanyard.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A WAL database with one table, and a GroupCommit over it that counts its transactions. */
function groupCommitted() {
  const db = new Database(databaseFile());
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
  // Each write in its own savepoint, as SqliteStorage's are.
  const write = db.transaction((id: string, fail?: 'after-insert') => {
    insert.run(id, 'x'.repeat(3000));
    if (fail) throw new Error(`refused ${id}`);
    return id;
  });
  const inOneTransaction = db.transaction((batch: () => void) => batch());
  let transactions = 0;
  const commits = new GroupCommit(
    async (batch) => {
      transactions++;
      inOneTransaction.immediate(batch);
    },
    () => db.inTransaction,
  );
  const stored = () => (db.prepare('SELECT id FROM t ORDER BY id').all() as { id: string }[]).map((row) => row.id);
  return { db, write, commits, stored, transactions: () => transactions };
}

describe('GroupCommit', () => {
  it('commits the writes asked for in one turn of the event loop in one transaction, each answered with its own result', async () => {
    const { db, write, commits, stored, transactions } = groupCommitted();
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => commits.add(() => write(id))));
    expect(answers).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(transactions()).toBe(1);
    expect(stored()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // A later turn: a transaction of its own.
    expect(await commits.add(() => write('f'))).toBe('f');
    expect(transactions()).toBe(2);
    db.close();
  });

  it('undoes only the write that failed: the others commit, and its caller gets its error', async () => {
    const { db, write, commits, stored } = groupCommitted();
    const answers = await Promise.allSettled([
      commits.add(() => write('a')),
      commits.add(() => write('b', 'after-insert')),
      commits.add(() => write('a')), // the key taken by the first: SQLite's constraint error, this write alone
      commits.add(() => write('c')),
    ]);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([
      'a',
      'refused b',
      'UNIQUE constraint failed: t.id',
      'c',
    ]);
    expect(stored()).toEqual(['a', 'c']);
    db.close();
  });

  it('fails every write of a batch whose transaction SQLite ended (a full disk), and runs none after it outside the transaction', async () => {
    const { db, write, commits, stored } = groupCommitted();
    await commits.add(() => write('before'));
    // The file may not grow: the first write needing a new page fails with SQLITE_FULL, which
    // rolls the whole transaction back. A write run after that would commit on its own.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const answers = await Promise.allSettled(['a', 'b', 'c', 'd'].map((id) => commits.add(() => write(id))));
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    for (const answer of answers) expect((answer as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_FULL' });
    expect(stored()).toEqual(['before']);
    expect(db.inTransaction).toBe(false);
    db.pragma('max_page_count = 1073741823');
    expect(await commits.add(() => write('after'))).toBe('after');
    expect(stored()).toEqual(['after', 'before']);
    db.close();
  });

  it('rejects every write of a batch whose transaction could not begin, with why', async () => {
    const commits = new GroupCommit(
      async () => {
        throw StorageUnavailableError.closed();
      },
      () => false,
    );
    const answers = await Promise.allSettled([commits.add(() => 1), commits.add(() => 2)]);
    expect(answers.map((a) => a.status === 'rejected' && a.reason)).toEqual([StorageUnavailableError.closed(), StorageUnavailableError.closed()]);
  });
});

describe('SqliteStorage spends, committed in groups', () => {
  const spend = (storage: SqliteStorage, token: string, successor: string) =>
    storage.consumeAndInsertIf('g-token', token, { kind: 'g-token', id: successor, payload: { from: token } }, [
      { kind: 'g-session', id: 's', expected: { revokedAt: null } },
    ]);

  it('answers and stores the spends asked for before a close, and refuses one asked for after it as closed', async () => {
    const file = databaseFile();
    const storage = new SqliteStorage(file);
    await storage.insert({ kind: 'g-session', id: 's', payload: { revokedAt: null } });
    for (const id of ['t1', 't2', 't3']) await storage.insert({ kind: 'g-token', id, payload: {} });
    const spends = ['t1', 't2', 't3'].map((id) => spend(storage, id, `${id}-next`));
    await storage.close();
    expect(await Promise.all(spends)).toEqual([[{ revokedAt: null }], [{ revokedAt: null }], [{ revokedAt: null }]]);
    await expect(spend(storage, 't1-next', 'late')).rejects.toThrow(StorageUnavailableError);

    const reopened = new SqliteStorage(file);
    for (const id of ['t1', 't2', 't3']) {
      expect((await reopened.find('g-token', id))?.consumedAt).toEqual(expect.any(Number));
      expect(await reopened.find('g-token', `${id}-next`)).toMatchObject({ consumedAt: null, payload: { from: id } });
    }
    await reopened.close();

    // Without a file (no WAL checkpointer to stop first) the close is at once: the same holds.
    const inMemory = new SqliteStorage(':memory:');
    await inMemory.insert({ kind: 'g-session', id: 's', payload: { revokedAt: null } });
    await inMemory.insert({ kind: 'g-token', id: 't1', payload: {} });
    const pending = spend(inMemory, 't1', 't1-next');
    await inMemory.close();
    expect(await pending).toEqual([{ revokedAt: null }]);
  });

  it('spends each token of a batch on its own: a refused one changes nothing, the others are spent', async () => {
    const storage = new SqliteStorage(databaseFile());
    await storage.insert({ kind: 'g-session', id: 's', payload: { revokedAt: null } });
    for (const id of ['a', 'b', 'c']) await storage.insert({ kind: 'g-token', id, payload: {} });
    await storage.insert({ kind: 'g-token', id: 'taken', payload: {} });
    const answers = await Promise.all([
      spend(storage, 'a', 'a-next'),
      spend(storage, 'b', 'taken'), // its successor's key is taken: not spent
      spend(storage, 'a', 'a-again'), // spent by the first, in the same transaction
      storage.consumeAndInsert('g-token', 'c', { kind: 'g-token', id: 'c-next', payload: {} }),
    ]);
    expect(answers).toEqual([[{ revokedAt: null }], undefined, undefined, true]);
    expect((await storage.find('g-token', 'b'))?.consumedAt).toBeNull();
    expect(await storage.find('g-token', 'a-again')).toBeUndefined();
    expect((await storage.find('g-token', 'c'))?.consumedAt).toEqual(expect.any(Number));
    await storage.close();
  });
});
