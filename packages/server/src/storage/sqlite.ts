import Database from 'better-sqlite3';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { LookupTakenError, StorageUnavailableError } from '../errors.ts';
import { sqliteMigrations } from './migrations.ts';
import { GroupCommit } from './group-commit.ts';
import { assertConditionCount, meetsCondition } from './record-conditions.ts';
import { linkedKeys } from './record-links.ts';
import { matchesNoRecord, storablePayload } from './storable-values.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';
import type {
  ConsumeResult,
  FindOptions,
  ListQuery,
  NewRecord,
  RecordCondition,
  RecordKey,
  RecordLink,
  ReplaceOptions,
  Storage,
  StoredRecord,
} from './port.ts';

interface Row {
  kind: string;
  id: string;
  account_sid: string | null;
  lookup: string | null;
  family: string | null;
  payload: string;
  created_at: number;
  expires_at: number | null;
  consumed_at: number | null;
}

function toRecord<T>(row: Row): StoredRecord<T> {
  return {
    kind: row.kind,
    id: row.id,
    accountSid: row.account_sid,
    lookup: row.lookup,
    family: row.family,
    payload: JSON.parse(row.payload) as T,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
  };
}

function params<T>(r: NewRecord<T>, now: number) {
  const payload = storablePayload(r);
  return {
    kind: r.kind,
    id: r.id,
    account_sid: r.accountSid ?? null,
    lookup: r.lookup ?? null,
    family: r.family ?? null,
    payload,
    created_at: r.createdAt ?? now,
    expires_at: r.expiresAt ?? null,
  };
}

/** A write whose only unique conflict left is the lookup's (the key's is the statement's own, or absent): LookupTakenError. */
function lookupGuarded<R>(kind: string, write: () => R): R {
  try {
    return write();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new LookupTakenError(kind);
    throw error;
  }
}

/** Turns SQLITE_FULL / SQLITE_READONLY / I/O faults into a clear 503 instead of a 500. */
function guard<R>(work: () => R): R {
  try {
    return work();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') throw error;
    if (code === 'SQLITE_FULL') throw new StorageUnavailableError('the SQLite disk is full; free space on the volume holding the database');
    // Only a deferred transaction that reads before it writes meets it: every one here is immediate.
    if (code === 'SQLITE_BUSY_SNAPSHOT')
      throw new StorageUnavailableError("another process wrote to the SQLite database between this request's read and its write; try again");
    if (code.startsWith('SQLITE_BUSY'))
      throw new StorageUnavailableError(
        'another process held the SQLite database locked for over 5 s (a long CLI command or a migration); try again',
      );
    if (code.startsWith('SQLITE_READONLY'))
      throw new StorageUnavailableError(
        'the SQLite database is read-only; check the volume is mounted read-write and the file and its directory are writable',
      );
    if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') throw new StorageUnavailableError(`SQLite I/O error (${code})`);
    throw error;
  }
}

/** Why a database file cannot be opened for writing, in words an operator can act on. */
function openFailure(filename: string, error: unknown): Error {
  const code = (error as { code?: string }).code ?? '';
  if (!code.startsWith('SQLITE_')) return error as Error;
  const problems: string[] = [];
  for (const [what, path] of [
    ['directory', dirname(filename)],
    ['file', filename],
  ] as const) {
    try {
      accessSync(path, constants.W_OK);
    } catch (accessError) {
      const reason = (accessError as NodeJS.ErrnoException).code;
      if (reason === 'EROFS') problems.push(`the ${what} is on a read-only filesystem`);
      else if (reason === 'EACCES' || reason === 'EPERM') problems.push(`the ${what} is read-only for this user`);
    }
  }
  const cause = problems.length > 0 ? problems.join(' and ') : (error as Error).message;
  // WAL mode writes <file>-wal and <file>-shm beside the database, so the directory must be writable too.
  return new StorageUnavailableError(`cannot open the SQLite database ${filename} for writing (${code}): ${cause}`);
}

export interface SqliteOptions {
  /** Told of what an operator should know but that does not stop the storage (a failed WAL checkpoint). */
  onWarning?: (message: string) => void;
}

/** Thrown inside `consumeAndInsert`'s savepoint to roll the spend back when the successor cannot be stored. */
const SUCCESSOR_TAKEN = Symbol('successor taken');

/**
 * Embedded SQLite (better-sqlite3, WAL). better-sqlite3 is synchronous; a transaction may await,
 * so while one is open every other caller waits on `gate` and cannot slip statements into it.
 * A database file gets its WAL checkpoints on a worker thread (storage/wal-checkpointer.ts).
 */
export class SqliteStorage implements Storage {
  readonly backend = 'sqlite' as const;
  /** Storage.createdNow: this open created the tables (a new, empty database file). */
  createdNow = false;
  private readonly db: Database.Database;
  /** Settles when the open transaction ends; `transactionOpen` says whether one is. */
  private gate: Promise<void> = Promise.resolve();
  private transactionOpen = false;
  private readonly statements;
  private readonly checkpointer: WalCheckpointer | undefined;
  // Called `.immediate`: each reads, then writes. A deferred transaction whose read another
  // process's commit overtakes fails at once with SQLITE_BUSY_SNAPSHOT (the busy timeout does not
  // wait for that); an immediate one takes the write lock first, waiting its turn. Inside an open
  // transaction (which holds that lock) they are savepoints.
  private readonly consumeAndInsertIfAtomically: Database.Transaction<
    (kind: string, id: string, successor: ReturnType<typeof params>, conditions: ReadonlyArray<RecordCondition>, now: number) => unknown[] | undefined
  >;
  private readonly consumeAndInsertAtomically: Database.Transaction<
    (kind: string, id: string, successor: ReturnType<typeof params>, now: number) => boolean
  >;
  private readonly replaceIfPayloadAtomically: Database.Transaction<(record: ReturnType<typeof params>, ifPayload: string) => boolean>;
  /** The refresh grants' spends (consumeAndInsert, consumeAndInsertIf) of one turn of the event loop, in one transaction. */
  private readonly spends: GroupCommit;

  constructor(filename: string, options: SqliteOptions = {}) {
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    try {
      this.db = new Database(filename);
    } catch (error) {
      throw openFailure(filename, error);
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (error) {
      this.db.close();
      throw openFailure(filename, error);
    }
    const db = this.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
         VALUES (@kind, @id, @account_sid, @lookup, @family, @payload, @created_at, @expires_at)
         ON CONFLICT DO NOTHING`,
      ),
      upsert: db.prepare(
        `INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
         VALUES (@kind, @id, @account_sid, @lookup, @family, @payload, @created_at, @expires_at)
         ON CONFLICT (kind, id) DO UPDATE SET account_sid = excluded.account_sid, lookup = excluded.lookup,
           family = excluded.family, payload = excluded.payload, expires_at = excluded.expires_at`,
      ),
      replace: db.prepare(
        `UPDATE records SET account_sid = @account_sid, lookup = @lookup, family = @family, payload = @payload, expires_at = @expires_at
         WHERE kind = @kind AND id = @id AND (expires_at IS NULL OR expires_at > @created_at)`,
      ),
      find: db.prepare(`SELECT * FROM records WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)`),
      findByLookup: db.prepare(`SELECT * FROM records WHERE kind = ? AND lookup = ? AND (expires_at IS NULL OR expires_at > ?)`),
      consume: db.prepare(
        `UPDATE records SET consumed_at = ? WHERE kind = ? AND id = ? AND consumed_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?) RETURNING *`,
      ),
      destroy: db.prepare(`DELETE FROM records WHERE kind = ? AND id = ?`),
      sweep: db.prepare(`DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?`),
      // Prepared once: `exec` compiles them on every transaction (3.7 % of a refresh profile).
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
    // A savepoint when a transaction is open (better-sqlite3 nests them), else a transaction.
    this.consumeAndInsertAtomically = db.transaction((kind: string, id: string, successor: ReturnType<typeof params>, now: number) => {
      if (!this.statements.consume.get(now, kind, id, now)) return false;
      if (this.statements.insert.run(successor).changes !== 1) throw SUCCESSOR_TAKEN;
      return true;
    });
    // The conditions read and the spend in one immediate transaction: nothing commits between them.
    this.consumeAndInsertIfAtomically = db.transaction(
      (kind: string, id: string, successor: ReturnType<typeof params>, conditions: ReadonlyArray<RecordCondition>, now: number) => {
        const records = conditions.map((condition) => this.findSync(condition.kind, condition.id, now));
        if (!conditions.every((condition, i) => meetsCondition(records[i], condition))) return undefined;
        return this.spendAndInsert(kind, id, successor, now) ? records.map((record) => record!.payload) : undefined;
      },
    );
    // `ifPayload` is JSON.stringify of the payload as read. Compared as values when the text
    // differs: a payload stored with a `\ufffd` escape reads back as the character itself.
    this.replaceIfPayloadAtomically = db.transaction((record: ReturnType<typeof params>, ifPayload: string) => {
      const row = this.statements.find.get(record.kind, record.id, record.created_at) as Row | undefined;
      if (!row || (row.payload !== ifPayload && !isDeepStrictEqual(JSON.parse(row.payload), JSON.parse(ifPayload)))) return false;
      return this.statements.replace.run(record).changes === 1;
    });
    const inOneTransaction = db.transaction((batch: () => void) => batch());
    this.spends = new GroupCommit(
      (batch) => this.whenOpen(() => guard(() => inOneTransaction.immediate(batch))),
      () => db.inTransaction,
    );
    if (filename !== ':memory:') {
      const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'LanyardStorageWarning'));
      this.checkpointer = WalCheckpointer.start(db, filename, warn);
    }
  }

  /** True while WAL checkpoints run on the worker thread rather than on the event loop. */
  get checkpointsInBackground(): boolean {
    return this.checkpointer?.running ?? false;
  }

  private migrate(): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS lanyard_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const appliedVersions = () =>
      new Set((this.db.prepare(`SELECT version FROM lanyard_migrations`).all() as { version: number }[]).map((r) => r.version));
    this.createdNow = appliedVersions().size === 0;
    for (const migration of sqliteMigrations) {
      if (appliedVersions().has(migration.version)) continue;
      // IMMEDIATE, and looked at again inside: two processes opening the file at once (a server
      // and a CLI command) take turns, and the second finds the migration done.
      this.db
        .transaction(() => {
          if (appliedVersions().has(migration.version)) return;
          this.db.exec(migration.sql);
          this.db.prepare(`INSERT INTO lanyard_migrations VALUES (?, ?, ?)`).run(migration.version, migration.name, Date.now());
        })
        .immediate();
    }
  }

  /**
   * Runs a synchronous statement once no transaction is open: at once when none is (in the
   * caller's tick, without waiting for a turn of the event loop), else after it ends. The check
   * and the statement happen in the same tick, so nothing can open a transaction between them.
   */
  private async whenOpen<R>(op: () => R): Promise<Awaited<R>> {
    while (this.transactionOpen) await this.gate;
    if (!this.db.open) throw StorageUnavailableError.closed();
    return await op();
  }

  private directOps: Storage | undefined;

  /** The statements themselves; only `transaction` and the gated public methods call them. */
  private direct(): Storage {
    if (this.directOps) return this.directOps;
    const self = this;
    const ops: Storage = {
      backend: 'sqlite',
      insert: async (r) => guard(() => self.statements.insert.run(params(r, Date.now())).changes === 1),
      upsert: async (r) => {
        guard(() => lookupGuarded(r.kind, () => self.statements.upsert.run(params(r, Date.now()))));
      },
      // `created_at` in the parameters is now (the record keeps its own): the expiry check's clock.
      replace: async (r, options?: ReplaceOptions) => {
        if (matchesNoRecord(r.id)) return false;
        const record = params({ ...r, createdAt: undefined }, Date.now());
        if (options?.ifPayload === undefined) return guard(() => lookupGuarded(r.kind, () => self.statements.replace.run(record).changes === 1));
        // Not storablePayload: a NUL an earlier release stored reads back as itself and must match.
        const ifPayload = JSON.stringify(options.ifPayload);
        return guard(() => lookupGuarded(r.kind, () => self.replaceIfPayloadAtomically.immediate(record, ifPayload)));
      },
      find: async <T>(kind: string, id: string) => {
        if (matchesNoRecord(id)) return undefined;
        const row = self.statements.find.get(kind, id, Date.now()) as Row | undefined;
        return row ? toRecord<T>(row) : undefined;
      },
      findMany: async (keys) => {
        const now = Date.now();
        return keys.map(({ kind, id }) => {
          if (matchesNoRecord(id)) return undefined;
          const row = self.statements.find.get(kind, id, now) as Row | undefined;
          return row ? toRecord(row) : undefined;
        });
      },
      findByLookup: async <T>(kind: string, lookup: string) => {
        if (matchesNoRecord(lookup)) return undefined;
        const row = self.statements.findByLookup.get(kind, lookup, Date.now()) as Row | undefined;
        return row ? toRecord<T>(row) : undefined;
      },
      list: async <T>(kind: string, query: ListQuery = {}) => self.listSync<T>(kind, query),
      consume: async <T>(kind: string, id: string, now = Date.now()): Promise<ConsumeResult<T> | undefined> => {
        if (matchesNoRecord(id)) return undefined;
        const row = guard(() => self.statements.consume.get(now, kind, id, now) as Row | undefined);
        if (row) return { record: toRecord<T>(row), consumedNow: true };
        const existing = self.statements.find.get(kind, id, now) as Row | undefined;
        return existing ? { record: toRecord<T>(existing), consumedNow: false } : undefined;
      },
      consumeWithLinked: async <T>(kind: string, id: string, links: ReadonlyArray<RecordLink>, now = Date.now()) => {
        const result = await ops.consume<T>(kind, id, now);
        return result && { ...result, linked: self.linkedRecords(result.record, links, now) };
      },
      findWithLinked: async <T>(kind: string, id: string, links: ReadonlyArray<RecordLink>) => {
        if (matchesNoRecord(id)) return undefined;
        const now = Date.now();
        const row = guard(() => self.statements.find.get(kind, id, now) as Row | undefined);
        if (!row) return undefined;
        const record = toRecord<T>(row);
        return { record, linked: self.linkedRecords(record, links, now) };
      },
      consumeAndInsert: async <T>(kind: string, id: string, successor: NewRecord<T>, now = Date.now()) =>
        guard(() => !matchesNoRecord(id) && self.spendAndInsert(kind, id, params(successor, now), now)),
      consumeAndInsertIf: async <T>(
        kind: string,
        id: string,
        successor: NewRecord<T>,
        conditions: ReadonlyArray<RecordCondition>,
        now = Date.now(),
      ) => {
        assertConditionCount(conditions);
        if (matchesNoRecord(id)) return undefined;
        return guard(() => self.consumeAndInsertIfAtomically.immediate(kind, id, params(successor, now), conditions, now));
      },
      destroy: async (kind, id) => !matchesNoRecord(id) && guard(() => self.statements.destroy.run(kind, id).changes > 0),
      sweepExpired: async (now = Date.now()) => guard(() => self.statements.sweep.run(now).changes),
      transaction: async (work) => work(ops),
      ping: async () => true,
      close: async () => undefined,
    };
    this.directOps = ops;
    return ops;
  }

  /** consumeAndInsert's step: false, with nothing changed, when the token is not spendable or the successor's key is taken. */
  private spendAndInsert(kind: string, id: string, successor: ReturnType<typeof params>, now: number): boolean {
    try {
      // Immediate when alone; a savepoint inside a transaction (a group commit's or `transaction`'s).
      return this.consumeAndInsertAtomically.immediate(kind, id, successor, now);
    } catch (error) {
      if (error === SUCCESSOR_TAKEN) return false;
      throw error;
    }
  }

  /** The records `record`'s payload names through `links` (record-links.ts), in link order; undefined where absent or expired. */
  private linkedRecords(record: StoredRecord, links: ReadonlyArray<RecordLink>, now: number): Array<StoredRecord | undefined> {
    return linkedKeys(record, links).map((key) => key && guard(() => this.findSync(key.kind, key.id, now)));
  }

  /** One record by key, unexpired at `now`; undefined for an id no record can have. */
  private findSync(kind: string, id: string, now: number): StoredRecord | undefined {
    if (matchesNoRecord(id)) return undefined;
    const row = this.statements.find.get(kind, id, now) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  private readonly listStatements = new Map<string, Database.Statement>();

  private listSync<T>(kind: string, query: ListQuery): StoredRecord<T>[] {
    if ([query.accountSid, query.family].some((key) => key !== undefined && matchesNoRecord(key))) return [];
    const where = ['kind = @kind', '(expires_at IS NULL OR expires_at > @now)'];
    if (query.accountSid !== undefined) where.push('account_sid = @accountSid');
    if (query.family !== undefined) where.push('family = @family');
    if (query.since !== undefined) where.push('created_at >= @since');
    const sql = `SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY created_at ${query.newestFirst ? 'DESC' : 'ASC'}, id
      ${query.limit !== undefined ? 'LIMIT @limit' : ''}`;
    // A handful of query shapes exist; preparing each once keeps SQLite's compiler off the hot path.
    let statement = this.listStatements.get(sql);
    if (!statement) this.listStatements.set(sql, (statement = this.db.prepare(sql)));
    const rows = statement.all({ kind, now: Date.now(), ...query }) as Row[];
    return rows.map((row) => toRecord<T>(row));
  }

  insert<T>(r: NewRecord<T>) {
    return this.whenOpen(() => this.direct().insert(r));
  }
  upsert<T>(r: NewRecord<T>) {
    return this.whenOpen(() => this.direct().upsert(r));
  }
  replace<T>(r: NewRecord<T>, options?: ReplaceOptions) {
    return this.whenOpen(() => this.direct().replace(r, options));
  }
  find<T>(kind: string, id: string, _options?: FindOptions) {
    return this.whenOpen(() => this.direct().find<T>(kind, id));
  }
  findMany(keys: ReadonlyArray<RecordKey>) {
    return this.whenOpen(() => this.direct().findMany(keys));
  }
  findByLookup<T>(kind: string, lookup: string) {
    return this.whenOpen(() => this.direct().findByLookup<T>(kind, lookup));
  }
  list<T>(kind: string, query?: ListQuery) {
    return this.whenOpen(() => this.direct().list<T>(kind, query));
  }
  consume<T>(kind: string, id: string, now?: number) {
    return this.whenOpen(() => this.direct().consume<T>(kind, id, now));
  }
  consumeWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>, now?: number) {
    return this.whenOpen(() => this.direct().consumeWithLinked<T>(kind, id, links, now));
  }
  findWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>) {
    return this.whenOpen(() => this.direct().findWithLinked<T>(kind, id, links));
  }
  /** Committed with the other spends asked for in the same turn of the event loop (GroupCommit). */
  async consumeAndInsert<T>(kind: string, id: string, successor: NewRecord<T>, now = Date.now()) {
    if (matchesNoRecord(id)) return false;
    const row = params(successor, now);
    return this.spends.add(() => guard(() => this.spendAndInsert(kind, id, row, now)));
  }
  /** Committed with the other spends asked for in the same turn of the event loop (GroupCommit). */
  async consumeAndInsertIf<T>(kind: string, id: string, successor: NewRecord<T>, conditions: ReadonlyArray<RecordCondition>, now = Date.now()) {
    assertConditionCount(conditions);
    if (matchesNoRecord(id)) return undefined;
    const row = params(successor, now);
    return this.spends.add(() => guard(() => this.consumeAndInsertIfAtomically(kind, id, row, conditions, now)));
  }
  destroy(kind: string, id: string) {
    return this.whenOpen(() => this.direct().destroy(kind, id));
  }
  sweepExpired(now?: number) {
    return this.whenOpen(() => this.direct().sweepExpired(now));
  }

  async transaction<R>(work: (tx: Storage) => Promise<R>): Promise<R> {
    let release!: () => void;
    await this.whenOpen(() => {
      this.transactionOpen = true;
      this.gate = new Promise<void>((resolve) => (release = resolve));
    });
    try {
      guard(() => this.statements.begin.run());
      try {
        const result = await work(this.direct());
        // COMMIT is where a full disk or a read-only file shows up for WAL writes.
        guard(() => this.statements.commit.run());
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.statements.rollback.run();
        throw error;
      }
    } finally {
      this.transactionOpen = false;
      release();
    }
  }

  async ping(): Promise<boolean> {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // The spends asked for before the close are committed and answered, not dropped.
    await this.spends.settled();
    await this.checkpointer?.stop();
    while (this.transactionOpen) await this.gate;
    if (this.db.open) this.db.close();
  }
}
