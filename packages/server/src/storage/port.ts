/**
 * The one storage interface. Every feature keeps its state as typed records of a `kind`
 * (account, connection, user, session, refresh token…). The port is deliberately small, in the
 * manner of oidc-provider's adapter: each operation is atomic on its own, and `transaction`
 * groups several where a rule needs it (refresh rotation). SQLite and PostgreSQL implement it;
 * the same contract tests run against both.
 */
export interface StoredRecord<T = unknown> {
  kind: string;
  id: string;
  /** Owning account, for listing and account-wide revocation. */
  accountSid: string | null;
  /** A second unique key within the kind (e.g. a user's account + NameID). */
  lookup: string | null;
  /** Groups records revoked together (a session and its refresh tokens). */
  family: string | null;
  payload: T;
  createdAt: number;
  expiresAt: number | null;
  consumedAt: number | null;
}

export type NewRecord<T> = Pick<StoredRecord<T>, 'kind' | 'id' | 'payload'> &
  Partial<Pick<StoredRecord<T>, 'accountSid' | 'lookup' | 'family' | 'expiresAt' | 'createdAt'>>;

/** A record's primary key. */
export interface RecordKey {
  kind: string;
  id: string;
}

export interface ListQuery {
  accountSid?: string;
  /** Not indexed (migration 3): for diagnostics and tests, never a request's hot path. */
  family?: string;
  /** Only records created at or after this time (ms). */
  since?: number;
  /** Newest first when true. */
  newestFirst?: boolean;
  limit?: number;
}

export interface FindOptions {
  /** Inside a transaction: lock the record until commit (read-modify-write without lost updates). */
  forUpdate?: boolean;
}

export interface ReplaceOptions {
  /**
   * Compare-and-set: write only while the stored payload is still this one (equal as JSON), as
   * read before the change. A concurrent write in between makes `replace` return false, writing
   * nothing, so a read-modify-write never undoes another request's change (updateRecord reads
   * again and retries).
   */
  ifPayload?: unknown;
}

export interface ConsumeResult<T> {
  record: StoredRecord<T>;
  /** True when this call consumed it; false when it had been consumed before. */
  consumedNow: boolean;
}

/** A record another one names: `kind`, with the id in the naming record's payload field `idField`. */
export interface RecordLink {
  kind: string;
  idField: string;
}

/** A record and the records its payload names (Storage.findWithLinked). */
export interface FoundWithLinked<T> {
  record: StoredRecord<T>;
  /** The linked records, in the order of the links; undefined where absent, expired or not named. */
  linked: Array<StoredRecord | undefined>;
}

/**
 * A record that must be present, unexpired, with the given values at the top level of its payload
 * (Storage.consumeAndInsertIf). PostgreSQL's `payload @> expected` for JSON scalars: each field
 * present and equal, `null` matching only a field present and null.
 */
export interface RecordCondition {
  kind: string;
  id: string;
  expected: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * More work to commit with a change, in its transaction, given what the change made (the audit
 * record of an admin change that shows a secret once): if it fails, the change is undone with it.
 */
export type InSameTransaction<Made = void> = (tx: Storage, made: Made) => Promise<void>;

export interface ConsumeWithLinkedResult<T> extends ConsumeResult<T> {
  /** The linked records, in the order of the links; undefined where absent, expired or not named. */
  linked: Array<StoredRecord | undefined>;
}

/**
 * Every backend keeps, refuses and finds the same records (storable-values.ts): a write whose key
 * holds a NUL character or an unpaired UTF-16 surrogate, or is past 2,048 UTF-8 bytes, throws
 * UnstorableValueError (400); either character in payload text is stored as U+FFFD; a read
 * under a key holding either finds nothing.
 */
export interface Storage {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * True when opening this database created Lanyard's tables in it: a new, empty database (or
   * PostgreSQL schema). Expected on a deployment's first start; otherwise the sign of a
   * mistyped LANYARD_DATABASE_URL (file or schema name). Set by the backends when they open.
   */
  readonly createdNow?: boolean;
  /** Inserts; returns false (and changes nothing) when kind+id or kind+lookup exists. */
  insert<T>(record: NewRecord<T>): Promise<boolean>;
  /**
   * Inserts or replaces payload/lookup/family/expiry; keeps createdAt and consumedAt. Throws
   * LookupTakenError (409), changing nothing, when another record of the kind holds `lookup`
   * (inside a transaction on PostgreSQL, that error also ends the transaction).
   */
  upsert<T>(record: NewRecord<T>): Promise<void>;
  /**
   * Writes a new payload/lookup/family/expiry over a record that still exists (unexpired): true
   * when written; false, writing nothing, when it is gone. For read-modify-write of records
   * another request may remove meanwhile (a user merged away, an admin key revoked): an `upsert`
   * there would bring the removed record back. Throws LookupTakenError (409), changing nothing,
   * when another record of the kind holds `lookup`. Inside a transaction on PostgreSQL that error
   * also ends the transaction: let it propagate. With `ifPayload`, also false, writing nothing,
   * when the stored payload is no longer that one (changed by another request since it was read).
   */
  replace<T>(record: NewRecord<T>, options?: ReplaceOptions): Promise<boolean>;
  find<T>(kind: string, id: string, options?: FindOptions): Promise<StoredRecord<T> | undefined>;
  /**
   * Several records by kind and id in one read (one round trip on PostgreSQL), in the order of
   * `keys`; undefined where a record is absent or expired. For hot paths that need records of
   * several kinds at once (a refresh grant's session and user).
   */
  findMany(keys: ReadonlyArray<RecordKey>): Promise<Array<StoredRecord | undefined>>;
  findByLookup<T>(kind: string, lookup: string): Promise<StoredRecord<T> | undefined>;
  list<T>(kind: string, query?: ListQuery): Promise<StoredRecord<T>[]>;
  /** Marks consumed exactly once across all processes. Undefined when absent or expired. */
  consume<T>(kind: string, id: string, now?: number): Promise<ConsumeResult<T> | undefined>;
  /**
   * `consume`, then the records the consumed one's payload names (`links`; an id that is not a
   * string names nothing), read as committed once the record is locked: a refresh grant spends
   * its token and reads the token's session and user (SQLite: one step; PostgreSQL: two
   * statements, the second one round trip for all links). Undefined when the record is absent
   * or expired.
   */
  consumeWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>, now?: number): Promise<ConsumeWithLinkedResult<T> | undefined>;
  /**
   * A record, spent or not, and the records its payload names through `links` (as
   * `consumeWithLinked` names them), in one read: one statement and one snapshot on PostgreSQL.
   * Nothing is locked; a caller that writes on what it read spends with `consumeAndInsert`, which
   * spends only what is still unspent. Undefined when the record is absent or expired.
   */
  findWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>): Promise<FoundWithLinked<T> | undefined>;
  /**
   * Spends the record `kind`/`id` and inserts `successor`, atomically and only if the record is
   * still unspent: true when both happened; false, with nothing changed, when the record is spent
   * (another caller spent it since it was read), absent or expired, or `successor`'s key or
   * lookup is taken. One statement on PostgreSQL, needing no transaction; on SQLite committed with
   * the other spends of the same turn of the event loop (storage/group-commit.ts). Refresh-token
   * rotation (RFC 6749 §6; a token spent once, RFC 9700 §4.14.2).
   */
  consumeAndInsert<T>(kind: string, id: string, successor: NewRecord<T>, now?: number): Promise<boolean>;
  /**
   * `consumeAndInsert`, done only while every record of `conditions` (1 to 3) is present,
   * unexpired and holds its expected values: the conditions' records' payloads, in their order and
   * read in the same step, when it spent; undefined, with nothing changed, when it did not (a
   * condition unmet, or any reason `consumeAndInsert` gives false). One statement on PostgreSQL
   * (the conditions read in its snapshot, as `findWithLinked` reads; the spend re-checks only the
   * record it spends); on SQLite a savepoint in the transaction that commits every spend asked for
   * in the same turn of the event loop (storage/group-commit.ts), so a failure that ends that
   * transaction (a full disk, the file locked for over 5 s) fails every spend of it. A refresh
   * grant whose session this node knows spends its token in one round trip (tokens/issued-here.ts).
   *
   * @throws RangeError for no conditions or more than 3
   */
  consumeAndInsertIf<T>(
    kind: string,
    id: string,
    successor: NewRecord<T>,
    conditions: ReadonlyArray<RecordCondition>,
    now?: number,
  ): Promise<unknown[] | undefined>;
  destroy(kind: string, id: string): Promise<boolean>;
  /** Deletes records whose expiry has passed; returns how many. */
  sweepExpired(now?: number): Promise<number>;
  transaction<R>(work: (tx: Storage) => Promise<R>): Promise<R>;
  /** True when the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
