import pg from 'pg';
import { LookupTakenError, StorageUnavailableError } from '../errors.ts';
import { postgresMigrations } from './migrations.ts';
import { assertConditionCount } from './record-conditions.ts';
import { linkedKeys } from './record-links.ts';
import { StatementBatches } from './statement-batches.ts';
import { matchesNoRecord, storablePayload } from './storable-values.ts';
import { DEFAULT_LIMITS, DEFAULT_STATEMENT_TIMEOUT_MS, QUERY_TIMEOUT_MARGIN_MS, UrlParameterError, type PostgresLimits } from './postgres-limits.ts';
import type {
  ConsumeResult,
  FindOptions,
  FoundWithLinked,
  ListQuery,
  NewRecord,
  RecordKey,
  RecordCondition,
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
  payload: unknown;
  created_at: string;
  expires_at: string | null;
  consumed_at: string | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function toRecord<T>(row: Row): StoredRecord<T> {
  return {
    kind: row.kind,
    id: row.id,
    accountSid: row.account_sid,
    lookup: row.lookup,
    family: row.family,
    payload: row.payload as T,
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
    consumedAt: num(row.consumed_at),
  };
}

function values<T>(r: NewRecord<T>, now: number): unknown[] {
  const payload = storablePayload(r);
  return [r.kind, r.id, r.accountSid ?? null, r.lookup ?? null, r.family ?? null, payload, r.createdAt ?? now, r.expiresAt ?? null];
}

/** Connection failures become 503 with Retry-After at the edge rather than a 500. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '53300',
]);

/**
 * A statement PostgreSQL cancelled because it ran too long: past `statement_timeout` (57014) or,
 * when the URL sets one, waiting past `lock_timeout` (55P03). Transient: a 503 the client retries.
 */
const CANCELLED_CODES = new Set(['57014', '55P03']);

/**
 * pg's own error when no answer came within `query_timeout` (the server or the network stopped
 * responding), or ours that carries it as its cause (a statement's failure, already mapped).
 */
const isReadTimeout = (error: unknown): boolean =>
  (error as Error)?.message === 'Query read timeout' || (error as { cause?: Error })?.cause?.message === 'Query read timeout';

/** pg-pool's words for a pool used after `close()` ended it. */
const POOL_ENDED = /Cannot use a pool after calling end on the pool/;

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? '';
  return (
    (code !== undefined && (UNAVAILABLE_CODES.has(code) || CANCELLED_CODES.has(code))) ||
    isReadTimeout(error) ||
    // Used after close(): a request that outlived the node's shutdown.
    POOL_ENDED.test(message) ||
    // The last: pg-pool found no free connection within connectionTimeoutMillis.
    /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)
  );
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** A write whose only unique conflict left is the lookup's (the key's is the statement's own, or absent): 23505 is LookupTakenError. */
async function lookupGuarded<R>(kind: string, write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new LookupTakenError(kind);
    throw error;
  }
}

/** Expired records deleted by one statement of a sweep. */
const SWEEP_BATCH = 5000;

/** `application_name` of Lanyard's connections (pg_stat_activity), unless LANYARD_DATABASE_URL names one. */
const APPLICATION_NAME = 'lanyard';

/** How long a statement waits for a free pool connection before it answers 503. */
const POOL_WAIT_MS = 5000;

/** Idle pool connections are probed by TCP keep-alive after this long (ms) so that a dead server is noticed. */
const KEEP_ALIVE_DELAY_MS = 10_000;

/** A lost connection becomes StorageUnavailableError (503 + Retry-After); anything else is rethrown as is. */
function unavailableOr(error: unknown): unknown {
  if (!isUnavailable(error)) return error;
  const message = (error as Error).message;
  const code = (error as { code?: string }).code;
  if (code !== undefined && CANCELLED_CODES.has(code)) {
    const limit = code === '57014' ? 'statement_timeout' : 'lock_timeout';
    return Object.assign(
      new StorageUnavailableError(
        `PostgreSQL cancelled a statement (${message}): it waited for a lock another session holds (a long transaction, ` +
          `a manual edit, a pg_dump: see pg_locks and pg_stat_activity) or the database is overloaded. The request can be retried; ` +
          `the limit is the ${limit} parameter of LANYARD_DATABASE_URL (milliseconds${code === '57014' ? `; ${DEFAULT_STATEMENT_TIMEOUT_MS} unless it is set` : ''})`,
      ),
      { cause: error },
    );
  }
  if (POOL_ENDED.test(message)) return Object.assign(StorageUnavailableError.closed(), { cause: error });
  if (isReadTimeout(error)) {
    return Object.assign(
      new StorageUnavailableError(
        'PostgreSQL did not answer a statement within query_timeout: the server or the network to it stopped responding ' +
          '(a failover, a network partition, a stopped server). The connection was dropped and the request can be retried; ' +
          `the limit is the query_timeout parameter of LANYARD_DATABASE_URL (milliseconds; statement_timeout + ${QUERY_TIMEOUT_MARGIN_MS} unless it is set)`,
      ),
      { cause: error },
    );
  }
  // pg-pool's own words name neither the pool nor what to look at.
  if (/timeout exceeded when trying to connect/i.test(message)) {
    return new StorageUnavailableError(
      `no connection of this node's PostgreSQL pool came free within ${POOL_WAIT_MS / 1000} s (${message}): ` +
        'PostgreSQL is slow or overloaded, or long transactions hold the connections (see pg_stat_activity)',
    );
  }
  return new StorageUnavailableError(message);
}

async function run(db: Queryable, sql: string, args: unknown[] = []): Promise<pg.QueryResult<Row>> {
  try {
    return await db.query<Row>(sql, args);
  } catch (error) {
    throw unavailableOr(error);
  }
}

const NOT_EXPIRED = '(expires_at IS NULL OR expires_at > $NOW)';

/** Every column, named: a statement's result shape stays the same when a later migration adds one. */
const COLUMNS = 'kind, id, account_sid, lookup, family, payload, created_at, expires_at, consumed_at';

/**
 * The statements that address one record by its key, run as named prepared statements: each pool
 * connection parses and plans them once instead of on every call. PostgreSQL's own CPU per
 * refresh grant fell by about a fifth (653 → 503 µs under HTTP load, where a refresh took 953 →
 * 818 µs; ~680 → ~570 µs in a sequential loop, where wall time did not measurably change).
 * Their generic plans are the same primary-key or `records_lookup` index scans as the custom
 * ones (checked with `plan_cache_mode = force_generic_plan`). Statements over arrays or optional
 * filters (`findMany` past two keys, `list`, the sweep) stay unnamed: a generic plan does not suit them. Column
 * lists are explicit, never `*`: a prepared statement whose result shape changes under a
 * migration fails ("cached plan must not change result type") on nodes still running during a
 * rolling upgrade.
 */
/** The upsert's values in the same order; $7 (created_at there) is now, the expiry check's clock. */
const REPLACE = `UPDATE records SET account_sid = $3, lookup = $4, family = $5, payload = $6, expires_at = $8
         WHERE kind = $1 AND id = $2 AND ${NOT_EXPIRED.replace('$NOW', '$7')}`;

/**
 * consumeAndInsert, spending only while each of `n` records ($12, $13, $14: kind, id and expected
 * payload values of the first; $15… the next) is present, unexpired and contains its values; the
 * stored successor's row returns those records' payloads, read in the statement's snapshot.
 * A statement per number of conditions, not arrays of them: `unnest` made PostgreSQL plan the
 * statement afresh on every call (about twice the cost of the spend).
 */
function consumeAndInsertIf(n: number): string {
  const conditions = Array.from({ length: n }, (_, i) => ({
    kind: `$${12 + 3 * i}::text`,
    id: `$${13 + 3 * i}::text`,
    expected: `$${14 + 3 * i}::jsonb`,
  }));
  return `WITH spent AS (
      UPDATE records SET consumed_at = $1 WHERE kind = $2 AND id = $3 AND consumed_at IS NULL AND ${NOT_EXPIRED.replace('$NOW', '$1')}
        AND NOT EXISTS (SELECT 1 FROM records WHERE kind = $4 AND (id = $5 OR lookup = $7))
        ${conditions.map((c) => `AND EXISTS (SELECT 1 FROM records r WHERE r.kind = ${c.kind} AND r.id = ${c.id} AND r.payload @> ${c.expected} AND (r.expires_at IS NULL OR r.expires_at > $1))`).join('\n        ')}
      RETURNING 1)
    INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
    SELECT $4::text, $5::text, $6::text, $7::text, $8::text, $9::jsonb, $10::bigint, $11::bigint FROM spent
    RETURNING ${conditions.map((c, i) => `(SELECT r.payload FROM records r WHERE r.kind = ${c.kind} AND r.id = ${c.id}) AS condition${i + 1}`).join(', ')}`;
}

const STATEMENTS = {
  insert: `INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING`,
  upsert: `INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
         ON CONFLICT (kind, id) DO UPDATE SET account_sid = EXCLUDED.account_sid, lookup = EXCLUDED.lookup,
           family = EXCLUDED.family, payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at`,
  replace: REPLACE,
  // JSONB equality: the payload as read, whatever its text looked like when written.
  replaceIfPayload: `${REPLACE} AND payload = $9::jsonb`,
  find: `SELECT ${COLUMNS} FROM records WHERE kind = $1 AND id = $2 AND ${NOT_EXPIRED.replace('$NOW', '$3')}`,
  findForUpdate: `SELECT ${COLUMNS} FROM records WHERE kind = $1 AND id = $2 AND ${NOT_EXPIRED.replace('$NOW', '$3')} FOR UPDATE`,
  findByLookup: `SELECT ${COLUMNS} FROM records WHERE kind = $1 AND lookup = $2 AND ${NOT_EXPIRED.replace('$NOW', '$3')}`,
  // Two records by key (a refresh token's session and user, consumeWithLinked): two primary-key
  // lookups under a BitmapOr in the generic plan as in the custom one.
  findPair: `SELECT ${COLUMNS} FROM records WHERE ((kind = $1 AND id = $2) OR (kind = $3 AND id = $4)) AND ${NOT_EXPIRED.replace('$NOW', '$5')}`,
  consume: `UPDATE records SET consumed_at = $1 WHERE kind = $2 AND id = $3 AND consumed_at IS NULL
         AND ${NOT_EXPIRED.replace('$NOW', '$1')} RETURNING ${COLUMNS}`,
  // A record, spent or not, and the records its payload names: links as parallel arrays of kinds
  // and payload fields; an id that is not a JSON string names nothing (record-links.ts). One
  // statement, so one snapshot: nothing is locked (consumeAndInsert spends only the unspent).
  findWithLinked: `WITH found AS (SELECT ${COLUMNS} FROM records WHERE kind = $1 AND id = $2 AND ${NOT_EXPIRED.replace('$NOW', '$3')})
    SELECT 0 AS link, ${COLUMNS} FROM found
    UNION ALL
    SELECT l.ord::int AS link, ${COLUMNS.replace(/(\w+)/g, 'r.$1')}
      FROM found f CROSS JOIN unnest($4::text[], $5::text[]) WITH ORDINALITY AS l(kind, id_field, ord)
      JOIN records r ON r.kind = l.kind AND r.id = f.payload ->> l.id_field
      WHERE jsonb_typeof(f.payload -> l.id_field) = 'string' AND (r.expires_at IS NULL OR r.expires_at > $3)`,
  // Spends an unspent record and stores its successor in one statement: the UPDATE spends only
  // when the successor's key and lookup are free, and the INSERT runs only on what it spent. A
  // spend that waits for another's lock re-reads the row after it (EvalPlanQual) and spends
  // nothing if that one committed.
  consumeAndInsert: `WITH spent AS (
      UPDATE records SET consumed_at = $1 WHERE kind = $2 AND id = $3 AND consumed_at IS NULL AND ${NOT_EXPIRED.replace('$NOW', '$1')}
        AND NOT EXISTS (SELECT 1 FROM records WHERE kind = $4 AND (id = $5 OR lookup = $7))
      RETURNING 1)
    INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at)
    SELECT $4::text, $5::text, $6::text, $7::text, $8::text, $9::jsonb, $10::bigint, $11::bigint FROM spent`,
  consumeAndInsertIf1: consumeAndInsertIf(1),
  consumeAndInsertIf2: consumeAndInsertIf(2),
  consumeAndInsertIf3: consumeAndInsertIf(3),
  // findWithLinked for many ids of one kind at once (LinkedReads): the ids as $2, each row naming
  // the call (the id's position in $2) it answers. Primary-key lookups, as the single statement's.
  findWithLinkedBatch: `WITH found AS (SELECT i.call, ${COLUMNS.replace(/(\w+)/g, 'r.$1')}
        FROM unnest($2::text[]) WITH ORDINALITY AS i(id, call) JOIN records r ON r.kind = $1 AND r.id = i.id
        WHERE (r.expires_at IS NULL OR r.expires_at > $3))
    SELECT call, 0 AS link, ${COLUMNS} FROM found
    UNION ALL
    SELECT f.call, l.ord::int AS link, ${COLUMNS.replace(/(\w+)/g, 'r.$1')}
      FROM found f CROSS JOIN unnest($4::text[], $5::text[]) WITH ORDINALITY AS l(kind, id_field, ord)
      JOIN records r ON r.kind = l.kind AND r.id = f.payload ->> l.id_field
      WHERE jsonb_typeof(f.payload -> l.id_field) = 'string' AND (r.expires_at IS NULL OR r.expires_at > $3)`,
  destroy: `DELETE FROM records WHERE kind = $1 AND id = $2`,
} as const;

type Statement = (db: Queryable, name: keyof typeof STATEMENTS, args: unknown[]) => Promise<pg.QueryResult<Row>>;

/**
 * A connection whose prepared statement no longer matches the server: a migration changed a
 * column's type or collation ("cached plan must not change result type", 0A000; the plan never
 * ran), or the statement was dropped under it (`DISCARD ALL` / `DEALLOCATE ALL` from a pooler:
 * 26000). Both fail again on every later call on that connection: it must not be reused.
 */
function isStaleStatement(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (code === '0A000' && /cached plan must not change result type/.test(message ?? '')) || code === '26000';
}

/** Clients of a transaction whose prepared statements went stale: the transaction discards them. */
const staleClients = new WeakSet<object>();

/**
 * Named prepared statements. Their names carry a generation, bumped when a statement's plan no
 * longer fits the table (a migration changed a column's type while this node runs): every pool
 * connection then prepares the statements afresh instead of failing once each.
 */
function preparedStatements(): Statement {
  let generation = 0;
  return async (db, name, args) => {
    const used = generation;
    try {
      return await db.query<Row>({ name: `lanyard_${name}_${used}`, text: STATEMENTS[name], values: args });
    } catch (error) {
      if (!isStaleStatement(error)) throw unavailableOr(error);
      if ((error as { code?: string }).code === '0A000' && used === generation) generation++;
      // Outside a transaction nothing ran (the statement failed before executing) and the pool
      // has already discarded the client: run it again, unprepared. Inside one the transaction is
      // aborted: a 503 the client retries, and the client is not handed out again.
      if (db instanceof pg.Pool) return run(db, STATEMENTS[name], args);
      staleClients.add(db);
      throw Object.assign(new StorageUnavailableError(`a prepared statement went stale (${(error as Error).message})`), { cause: error });
    }
  };
}

/** The same statements, parsed on every call: behind a pooler that cannot keep prepared statements. */
const runUnprepared: Statement = (db, name, args) => run(db, STATEMENTS[name], args);

/** A row of `findWithLinked` (link 0: the record itself; link n: the record `links[n - 1]` names). */
type LinkedRow = Row & { link: number };

function withLinked(rows: LinkedRow[], links: ReadonlyArray<RecordLink>): FoundWithLinked<unknown> | undefined {
  const own = rows.find((row) => row.link === 0);
  if (!own) return undefined;
  const linked = links.map((_, i) => {
    const row = rows.find((r) => r.link === i + 1);
    return row ? toRecord(row) : undefined;
  });
  return { record: toRecord(own), linked };
}

/** `findWithLinked` as one statement of its own (`findWithLinked`): the read a batch of one, or a transaction, makes. */
async function findWithLinkedAlone(
  db: Queryable,
  statement: Statement,
  kind: string,
  id: string,
  links: ReadonlyArray<RecordLink>,
): Promise<FoundWithLinked<unknown> | undefined> {
  const args = [kind, id, Date.now(), links.map((l) => l.kind), links.map((l) => l.idField)];
  return withLinked((await statement(db, 'findWithLinked', args)).rows as LinkedRow[], links);
}

/**
 * `findWithLinked` on the pool, coalesced (StatementBatches): the reads that arrive while one is
 * in flight go together as the next statement, one per kind and list of links. A refresh grant's
 * first step; under load PostgreSQL's CPU a read falls with the statements it no longer runs.
 * Each answer is what the read alone would have answered at the time its statement ran (one
 * snapshot a statement, taken after every call in it was made); nothing is locked, so a read
 * never waits for another's lock, and a statement that stalls stops holding back the next one
 * after 250 ms (LINKED_READ_LIMITS). Inside a transaction reads are not batched.
 */
class LinkedReads {
  private readonly batches = new Map<string, StatementBatches<string, FoundWithLinked<unknown> | undefined>>();

  constructor(
    private readonly db: Queryable,
    private readonly statement: Statement,
  ) {}

  find(kind: string, id: string, links: ReadonlyArray<RecordLink>): Promise<FoundWithLinked<unknown> | undefined> {
    // Kinds and links are the callers' constants (record-links.ts), never outside input.
    const key = JSON.stringify([kind, links.map((l) => [l.kind, l.idField])]);
    let batches = this.batches.get(key);
    if (!batches) {
      batches = new StatementBatches((ids) => this.read(kind, ids, links), LINKED_READ_LIMITS);
      this.batches.set(key, batches);
    }
    return batches.run(id);
  }

  /**
   * One statement for every id. When PostgreSQL refuses a value in it (SQLSTATE class 22, data
   * exception: a NUL byte in an id, say), each id is read again alone, so that the call it came
   * from fails alone, not every call it was batched with. Any other failure (an unavailable
   * database, a timeout) fails every call of the batch, as it would have failed each alone.
   */
  private async read(
    kind: string,
    ids: string[],
    links: ReadonlyArray<RecordLink>,
  ): Promise<Array<PromiseSettledResult<FoundWithLinked<unknown> | undefined>>> {
    const alone = (id: string) => findWithLinkedAlone(this.db, this.statement, kind, id, links);
    if (ids.length === 1) return Promise.allSettled([alone(ids[0]!)]);
    let rows: Array<LinkedRow & { call: string }>;
    try {
      const args = [kind, ids, Date.now(), links.map((l) => l.kind), links.map((l) => l.idField)];
      rows = (await this.statement(this.db, 'findWithLinkedBatch', args)).rows as typeof rows;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('22')) throw error;
      return Promise.allSettled(ids.map(alone));
    }
    const byCall = ids.map((): LinkedRow[] => []);
    for (const row of rows) byCall[Number(row.call) - 1]!.push(row);
    return byCall.map((callRows) => ({ status: 'fulfilled', value: withLinked(callRows, links) }));
  }
}

/**
 * One statement of a kind holds back the next: every read that arrives meanwhile goes in the
 * next, up to 64. A statement still out after 250 ms (a stalled connection, a database under a
 * lock or far behind; a batch takes a few ms under load) no longer holds the next one back; at
 * most 3 are out at once, stalled or not, so a stalled database leaves the pool's other
 * connections to everything else.
 */
const LINKED_READ_LIMITS = { maxInFlight: 1, maxOutstanding: 3, maxBatch: 64, stalledAfterMs: 250 };

function operations(db: Queryable, transaction: Storage['transaction'], statement: Statement): Storage {
  const linkedReads = db instanceof pg.Pool ? new LinkedReads(db, statement) : undefined;
  const ops: Storage = {
    backend: 'postgres',
    async insert(r) {
      const res = await statement(db, 'insert', values(r, Date.now()));
      return res.rowCount === 1;
    },
    async upsert(r) {
      await lookupGuarded(r.kind, () => statement(db, 'upsert', values(r, Date.now())));
    },
    async replace(r, options?: ReplaceOptions) {
      if (matchesNoRecord(r.id)) return false;
      const params = values({ ...r, createdAt: undefined }, Date.now());
      const res = await lookupGuarded(r.kind, () =>
        options?.ifPayload === undefined
          ? statement(db, 'replace', params)
          : statement(db, 'replaceIfPayload', [...params, storablePayload({ kind: r.kind, id: r.id, payload: options.ifPayload })]),
      );
      return res.rowCount === 1;
    },
    async find<T>(kind: string, id: string, options: FindOptions = {}) {
      if (matchesNoRecord(id)) return undefined;
      const res = await statement(db, options.forUpdate ? 'findForUpdate' : 'find', [kind, id, Date.now()]);
      return res.rows[0] ? toRecord<T>(res.rows[0]) : undefined;
    },
    async findMany(keys) {
      if (keys.some((k) => matchesNoRecord(k.id))) return Promise.all(keys.map((k) => ops.find(k.kind, k.id)));
      if (keys.length === 0) return [];
      const inKeyOrder = (rows: Row[]) => {
        const found = new Map(rows.map((row) => [`${row.kind}\u0000${row.id}`, toRecord(row)]));
        return keys.map((k) => found.get(`${k.kind}\u0000${k.id}`));
      };
      if (keys.length <= 2) {
        const [first, second = first] = keys as readonly [RecordKey, RecordKey?];
        return inKeyOrder((await statement(db, 'findPair', [first.kind, first.id, second.kind, second.id, Date.now()])).rows);
      }
      const res = await run(
        db,
        `SELECT r.* FROM unnest($1::text[], $2::text[]) AS k(kind, id) JOIN records r ON r.kind = k.kind AND r.id = k.id
          WHERE ${NOT_EXPIRED.replace('$NOW', '$3')}`,
        [keys.map((k) => k.kind), keys.map((k) => k.id), Date.now()],
      );
      return inKeyOrder(res.rows);
    },
    async findByLookup<T>(kind: string, lookup: string) {
      if (matchesNoRecord(lookup)) return undefined;
      const res = await statement(db, 'findByLookup', [kind, lookup, Date.now()]);
      return res.rows[0] ? toRecord<T>(res.rows[0]) : undefined;
    },
    async list<T>(kind: string, query: ListQuery = {}) {
      if ([query.accountSid, query.family].some((key) => key !== undefined && matchesNoRecord(key))) return [];
      const args: unknown[] = [kind, Date.now()];
      const where = ['kind = $1', NOT_EXPIRED.replace('$NOW', '$2')];
      if (query.accountSid !== undefined) where.push(`account_sid = $${args.push(query.accountSid)}`);
      if (query.family !== undefined) where.push(`family = $${args.push(query.family)}`);
      if (query.since !== undefined) where.push(`created_at >= $${args.push(query.since)}`);
      const limit = query.limit !== undefined ? `LIMIT $${args.push(query.limit)}` : '';
      const res = await run(
        db,
        `SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY created_at ${query.newestFirst ? 'DESC' : 'ASC'}, id ${limit}`,
        args,
      );
      return res.rows.map((row) => toRecord<T>(row));
    },
    async consume<T>(kind: string, id: string, now = Date.now()): Promise<ConsumeResult<T> | undefined> {
      if (matchesNoRecord(id)) return undefined;
      const res = await statement(db, 'consume', [now, kind, id]);
      if (res.rows[0]) return { record: toRecord<T>(res.rows[0]), consumedNow: true };
      const existing = await ops.find<T>(kind, id);
      return existing ? { record: existing, consumedNow: false } : undefined;
    },
    /**
     * Two statements, not one: in a single statement (a CTE that spends the token and joins the
     * records it names), a spend that waited for the token's lock reads those records as they
     * were when the statement began, before the wait — a session revoked meanwhile would still
     * look live. The second statement reads them as committed after the token is locked.
     */
    async consumeWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>, now = Date.now()) {
      const result = await ops.consume<T>(kind, id, now);
      if (!result) return undefined;
      const keys = linkedKeys(result.record, links);
      const named = keys.filter((key) => key !== undefined);
      const found = await ops.findMany(named);
      return { ...result, linked: keys.map((key) => (key ? found[named.indexOf(key)] : undefined)) };
    },
    async findWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>) {
      if (matchesNoRecord(id)) return undefined;
      const found = linkedReads ? linkedReads.find(kind, id, links) : findWithLinkedAlone(db, statement, kind, id, links);
      return found as Promise<FoundWithLinked<T> | undefined>;
    },
    async consumeAndInsert<T>(kind: string, id: string, successor: NewRecord<T>, now = Date.now()) {
      if (matchesNoRecord(id)) return false;
      // The successor's key or lookup taken between the statement's check and its insert (23505):
      // the statement fails whole, nothing applied. Inside a transaction a savepoint keeps that
      // failure from aborting the transaction (a path no grant takes: it spends on the pool).
      const inTransaction = !(db instanceof pg.Pool);
      if (inTransaction) await run(db, 'SAVEPOINT lanyard_consume_and_insert');
      try {
        const stored = (await statement(db, 'consumeAndInsert', [now, kind, id, ...values(successor, now)])).rowCount === 1;
        if (inTransaction) await run(db, 'RELEASE SAVEPOINT lanyard_consume_and_insert');
        return stored;
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
        if (inTransaction) await run(db, 'ROLLBACK TO SAVEPOINT lanyard_consume_and_insert');
        return false;
      }
    },
    async consumeAndInsertIf<T>(kind: string, id: string, successor: NewRecord<T>, conditions: ReadonlyArray<RecordCondition>, now = Date.now()) {
      assertConditionCount(conditions);
      if (matchesNoRecord(id) || conditions.some((condition) => matchesNoRecord(condition.id))) return undefined;
      const name = `consumeAndInsertIf${conditions.length}` as 'consumeAndInsertIf1' | 'consumeAndInsertIf2' | 'consumeAndInsertIf3';
      const args = [now, kind, id, ...values(successor, now), ...conditions.flatMap((c) => [c.kind, c.id, JSON.stringify(c.expected)])];
      const inTransaction = !(db instanceof pg.Pool);
      if (inTransaction) await run(db, 'SAVEPOINT lanyard_consume_and_insert');
      try {
        const { rows } = await statement(db, name, args);
        if (inTransaction) await run(db, 'RELEASE SAVEPOINT lanyard_consume_and_insert');
        const row = rows[0] as Record<string, unknown> | undefined;
        return row && conditions.map((_, i) => row[`condition${i + 1}`]);
      } catch (error) {
        // As consumeAndInsert: the successor's key or lookup taken meanwhile, nothing applied.
        if ((error as { code?: string }).code !== '23505') throw error;
        if (inTransaction) await run(db, 'ROLLBACK TO SAVEPOINT lanyard_consume_and_insert');
        return undefined;
      }
    },
    async destroy(kind, id) {
      if (matchesNoRecord(id)) return false;
      const res = await statement(db, 'destroy', [kind, id]);
      return (res.rowCount ?? 0) > 0;
    },
    // In batches: each one short enough for statement_timeout and for the locks it holds,
    // however many records expired while no node swept (a cluster stopped for a holiday).
    async sweepExpired(now = Date.now()) {
      let swept = 0;
      for (;;) {
        const res = await run(
          db,
          `DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= $1
             AND (kind, id) IN (SELECT kind, id FROM records WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT ${SWEEP_BATCH})`,
          [now],
        );
        swept += res.rowCount ?? 0;
        if ((res.rowCount ?? 0) < SWEEP_BATCH) return swept;
      }
    },
    transaction,
    async ping() {
      try {
        await db.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {},
  };
  return ops;
}

export interface PostgresOptions {
  connectionString: string;
  /** A schema to keep Lanyard's tables in (created if absent); `public` by default. */
  schema?: string;
  maxConnections?: number;
  /**
   * Run the key-addressed statements as named prepared statements (default). Off behind a pooler
   * in transaction mode that cannot keep them (PgBouncer before 1.21, or with
   * `max_prepared_statements = 0`): `?prepared_statements=false` in LANYARD_DATABASE_URL.
   */
  preparedStatements?: boolean;
  /** Told of what an operator should see while it happens (a migration that may wait). */
  onWarning?: (message: string) => void;
  /**
   * The pool's limits (postgres-limits.ts `takeLimits` reads them from LANYARD_DATABASE_URL);
   * the defaults when absent. Migrations run on a connection of their own, under the role's and
   * database's settings alone.
   */
  limits?: PostgresLimits;
}

/** `-c` settings for the server-side limits above 0 (milliseconds). */
function serverLimits(limits: PostgresLimits): string[] {
  const settings: Array<[string, number]> = [
    ['statement_timeout', limits.statementTimeoutMs],
    ['idle_in_transaction_session_timeout', limits.idleInTransactionTimeoutMs],
    ['lock_timeout', limits.lockTimeoutMs],
  ];
  return settings.filter(([, ms]) => ms > 0).map(([name, ms]) => `-c ${name}=${ms}`);
}

/** The versions the schema's `lanyard_migrations` records (the table must exist). */
async function appliedVersions(client: pg.ClientBase): Promise<Set<number>> {
  return new Set((await client.query<{ version: number }>(`SELECT version FROM lanyard_migrations`)).rows.map((r) => r.version));
}

/** True when the schema's `lanyard_migrations` lists every migration this release knows. */
async function allMigrationsApplied(client: pg.ClientBase): Promise<boolean> {
  const table = await client.query<{ found: string | null }>(`SELECT to_regclass('lanyard_migrations')::text AS found`);
  if (table.rows[0]?.found == null) return false;
  const applied = await appliedVersions(client);
  return postgresMigrations.every((migration) => applied.has(migration.version));
}

/**
 * When a connection of the pool got no answer within query_timeout, the pool's idle connections
 * are dropped too: they most likely lead to the same silent server (a failover moved it, a
 * partition cut it off), and each would otherwise fail the next request after as long a wait.
 * Connections in use are left to their own statements' limits. An idle connection is dropped as
 * pg-pool drops one whose socket failed: through its 'error' event, which removes and closes it.
 */
function dropIdleAfterSilence(pool: pg.Pool): void {
  const idle = new Set<pg.PoolClient>();
  pool.on('acquire', (client) => idle.delete(client));
  pool.on('remove', (client) => idle.delete(client as pg.PoolClient));
  pool.on('release', (error: Error | undefined, client) => {
    if (!error) {
      idle.add(client);
      return;
    }
    if (!isReadTimeout(error)) return;
    const dropped = [...idle];
    idle.clear();
    for (const other of dropped) other.emit('error', new Error('dropped: another connection of the pool got no answer within query_timeout'));
  });
}

/** PostgreSQL through a `pg` pool. Migrations run under an advisory lock so nodes may start together. */
export class PostgresStorage implements Storage {
  readonly backend = 'postgres' as const;
  /** Storage.createdNow: this open created the tables (a new, empty schema). */
  createdNow = false;
  private readonly pool: pg.Pool;
  private readonly ops: Storage;
  private readonly statement: Statement;
  private onWarning: ((message: string) => void) | undefined;

  private constructor(pool: pg.Pool, prepared: boolean) {
    this.pool = pool;
    this.statement = prepared ? preparedStatements() : runUnprepared;
    this.ops = operations(pool, (work) => this.transaction(work), this.statement);
  }

  static async open(options: PostgresOptions): Promise<PostgresStorage> {
    const schema = options.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw new UrlParameterError(
        `Invalid PostgreSQL schema name "${schema}": use lowercase letters, digits and _, not starting with a digit, at most 63 characters (schema=lanyard)`,
      );
    const limits = options.limits ?? DEFAULT_LIMITS;
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: POOL_WAIT_MS,
      // The server-side limits travel with search_path in `options`, not as startup parameters
      // of their own: a pooler that passes `options` on (PgBouncer 1.20+) or ignores it
      // (`ignore_startup_parameters = options`) accepts them as it accepts search_path, where
      // PgBouncer refuses an unknown startup parameter. 0 sends none: the role's own applies.
      options: [`-c search_path=${schema}`, ...serverLimits(limits)].join(' '),
      // Client-side: the driver's own wait for an answer.
      query_timeout: limits.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
      // What pg_stat_activity shows for Lanyard's connections, unless the URL names another.
      application_name: APPLICATION_NAME,
    });
    // A client losing its server must not crash the process: idle ones report through the pool,
    // checked-out ones (between the statements of a transaction) through their own 'error' event.
    // The statement in flight fails on its own and becomes a 503.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    dropIdleAfterSilence(pool);
    const storage = new PostgresStorage(pool, options.preparedStatements ?? true);
    storage.onWarning = options.onWarning;
    try {
      await storage.migrate(options.connectionString, schema);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return storage;
  }

  /**
   * Applies the migrations this release knows, on a connection of its own: without the pool's
   * limits, which a migration (an index built over a large table, a wait for another node's
   * migration) may rightly pass; the role's and database's own settings apply.
   */
  private async migrate(connectionString: string, schema: string): Promise<void> {
    const client = new pg.Client({
      connectionString,
      connectionTimeoutMillis: POOL_WAIT_MS,
      options: `-c search_path=${schema}`,
      application_name: APPLICATION_NAME,
    });
    client.on('error', () => undefined);
    await client.connect().catch((error: Error) => {
      throw Object.assign(new StorageUnavailableError(error.message), { cause: error });
    });
    // One lock per schema: deployments sharing a database (one schema each) migrate independently.
    const lockKey = `lanyard_migrations:${schema}`;
    let locked = false;
    try {
      // Every start but a release's first finds nothing to do: it takes no lock, so a node that
      // waits inside a migration (migration 3 waits for open transactions) holds up no other
      // node's or CLI command's start.
      if (await allMigrationsApplied(client)) return;
      await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [lockKey]);
      locked = true;
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS lanyard_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
      );
      const applied = await appliedVersions(client);
      this.createdNow = applied.size === 0;
      for (const migration of postgresMigrations) {
        if (applied.has(migration.version)) continue;
        if (migration.transactional === false) {
          // On a schema created by this start nothing can hold its records table open (other
          // starts wait for the lock): the wait the warning announces cannot happen.
          if (!this.createdNow)
            this.onWarning?.(
              `applying migration ${migration.version} (${migration.name}) to schema ${schema}: it waits for transactions already open on its records table (a pg_dump, a long query); other starts on this schema wait for it`,
            );
          try {
            await client.query(migration.sql);
          } catch (error) {
            throw Object.assign(
              new StorageUnavailableError(
                `migration ${migration.version} (${migration.name}) did not finish: ${(error as Error).message}. ` +
                  "It waits for transactions already open on the records table (a pg_dump, a long query) within the role's " +
                  'statement_timeout and lock_timeout; start again once they end (an index it left INVALID is dropped then)',
              ),
              { cause: error },
            );
          }
          await client.query(`INSERT INTO lanyard_migrations VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
            migration.version,
            migration.name,
            Date.now(),
          ]);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query(`INSERT INTO lanyard_migrations VALUES ($1, $2, $3)`, [migration.version, migration.name, Date.now()]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    } finally {
      if (locked) await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockKey]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  insert<T>(r: NewRecord<T>) {
    return this.ops.insert(r);
  }
  upsert<T>(r: NewRecord<T>) {
    return this.ops.upsert(r);
  }
  replace<T>(r: NewRecord<T>, options?: ReplaceOptions) {
    return this.ops.replace(r, options);
  }
  find<T>(kind: string, id: string, options?: FindOptions) {
    return this.ops.find<T>(kind, id, options);
  }
  findMany(keys: ReadonlyArray<RecordKey>) {
    return this.ops.findMany(keys);
  }
  findByLookup<T>(kind: string, lookup: string) {
    return this.ops.findByLookup<T>(kind, lookup);
  }
  list<T>(kind: string, query?: ListQuery) {
    return this.ops.list<T>(kind, query);
  }
  consume<T>(kind: string, id: string, now?: number) {
    return this.ops.consume<T>(kind, id, now);
  }
  consumeWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>, now?: number) {
    return this.ops.consumeWithLinked<T>(kind, id, links, now);
  }
  findWithLinked<T>(kind: string, id: string, links: ReadonlyArray<RecordLink>) {
    return this.ops.findWithLinked<T>(kind, id, links);
  }
  consumeAndInsert<T>(kind: string, id: string, successor: NewRecord<T>, now?: number) {
    return this.ops.consumeAndInsert<T>(kind, id, successor, now);
  }
  consumeAndInsertIf<T>(kind: string, id: string, successor: NewRecord<T>, conditions: ReadonlyArray<RecordCondition>, now?: number) {
    return this.ops.consumeAndInsertIf<T>(kind, id, successor, conditions, now);
  }
  destroy(kind: string, id: string) {
    return this.ops.destroy(kind, id);
  }
  sweepExpired(now?: number) {
    return this.ops.sweepExpired(now);
  }
  ping() {
    return this.ops.ping();
  }

  async transaction<R>(work: (tx: Storage) => Promise<R>): Promise<R> {
    const client = await this.pool.connect().catch((error: Error) => {
      const unavailable = unavailableOr(error);
      throw unavailable instanceof StorageUnavailableError
        ? unavailable
        : Object.assign(new StorageUnavailableError(error.message), { cause: error });
    });
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const tx = operations(client, (inner) => inner(tx), this.statement);
      const result = await work(tx);
      // If the connection drops here the outcome is unknown to us; the client's retry is safe
      // (a refresh retried within the grace window gets the same successor back).
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // No answer within query_timeout: the statement may still be out on the connection, and a
      // ROLLBACK would queue behind it for as long again. The connection is dropped instead,
      // which ends the transaction on the server.
      if (isReadTimeout(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw unavailableOr(error);
    } finally {
      // A client whose connection broke, or whose prepared statements went stale, is discarded
      // rather than handed to the next request.
      if (!broken && staleClients.has(client)) broken = new Error('stale prepared statement');
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }
}
