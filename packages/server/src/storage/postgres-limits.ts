/**
 * How long PostgreSQL work may wait, from LANYARD_DATABASE_URL (docs/operations.md, "Several
 * nodes behind one address"). Kept apart from postgres.ts so that reading the URL does not load
 * the driver (a SQLite start-up never does).
 */

/**
 * Longest a statement may run on the server (ms; PostgreSQL's `statement_timeout`, set on every
 * pool connection). Lanyard's statements take milliseconds; one that waits longer waits for a
 * lock another session holds. Without a limit it held its request, and a pool connection, for as
 * long as that session lasted: the desktop waited without an answer and, once every connection
 * waited, so did every other request.
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/**
 * How much longer than `statement_timeout` the driver waits for an answer (pg's `query_timeout`)
 * before it drops the connection: a server or network that stopped answering (a failover's old
 * address, a partition) sends no cancellation and no reset; TCP alone would wait minutes.
 */
export const QUERY_TIMEOUT_MARGIN_MS = 5000;
/**
 * Longest a transaction of this node may sit idle holding its locks (ms; PostgreSQL's
 * `idle_in_transaction_session_timeout`): a node stopped between two statements (a frozen VM)
 * no longer blocks every other node's writes to those records.
 */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
/**
 * Largest value a limit may take (ms): a day. PostgreSQL would take up to INT_MAX, but Node's
 * timers (the driver's query_timeout) overflow past it and fire at once.
 */
const MAX_MS = 86_400_000;

/** The pool's limits in milliseconds, 0 for none (none sent: the role's or database's own applies). */
export interface PostgresLimits {
  /** PostgreSQL's `statement_timeout` on every pool connection. */
  statementTimeoutMs: number;
  /** The driver's wait for any answer before it drops the connection (pg's `query_timeout`). */
  queryTimeoutMs: number;
  /** PostgreSQL's `idle_in_transaction_session_timeout` on every pool connection. */
  idleInTransactionTimeoutMs: number;
  /** PostgreSQL's `lock_timeout` on every pool connection; none by default (statement_timeout covers a lock wait). */
  lockTimeoutMs: number;
}

/** The limits when LANYARD_DATABASE_URL sets none. */
export const DEFAULT_LIMITS: Readonly<PostgresLimits> = Object.freeze({
  statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS,
  queryTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS,
  idleInTransactionTimeoutMs: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  lockTimeoutMs: 0,
});

/** A parameter of LANYARD_DATABASE_URL Lanyard cannot use: the operator's to fix (a ConfigError naming the variable). */
export class UrlParameterError extends Error {
  override readonly name = 'UrlParameterError';
}

/** The limits LANYARD_DATABASE_URL may set, by parameter name. */
export const LIMIT_PARAMETERS: ReadonlyMap<string, keyof PostgresLimits> = new Map([
  ['statement_timeout', 'statementTimeoutMs'],
  ['query_timeout', 'queryTimeoutMs'],
  ['idle_in_transaction_session_timeout', 'idleInTransactionTimeoutMs'],
  ['lock_timeout', 'lockTimeoutMs'],
]);

/**
 * Reads and removes Lanyard's limits from `url` and fills in the defaults. Throws
 * UrlParameterError for a value that is not a whole number of milliseconds up to a day, and for a
 * `query_timeout` that could end before the server's own limit does (or with none on the server).
 */
export function takeLimits(url: URL): PostgresLimits {
  const given: Partial<PostgresLimits> = {};
  for (const [name, field] of LIMIT_PARAMETERS) {
    const value = url.searchParams.get(name);
    url.searchParams.delete(name);
    if (value !== null) given[field] = wholeMilliseconds(name, value);
  }
  const statementTimeoutMs = given.statementTimeoutMs ?? DEFAULT_LIMITS.statementTimeoutMs;
  const queryTimeoutMs = given.queryTimeoutMs ?? (statementTimeoutMs > 0 ? statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS : 0);
  if (queryTimeoutMs > 0 && statementTimeoutMs > 0 && queryTimeoutMs <= statementTimeoutMs) {
    const which =
      given.statementTimeoutMs === undefined ? `statement_timeout (${statementTimeoutMs}, the default)` : `statement_timeout (${statementTimeoutMs})`;
    throw new UrlParameterError(
      `query_timeout (${queryTimeoutMs}) must be longer than ${which}: the server's own limit must end a statement first; ` +
        'a shorter query_timeout drops the connection while its statement still runs on the server (it may still commit), and blames the network. ' +
        `Leave it out (statement_timeout + ${QUERY_TIMEOUT_MARGIN_MS}) or set query_timeout=0 for none`,
    );
  }
  if (queryTimeoutMs > 0 && statementTimeoutMs === 0)
    throw new UrlParameterError(
      `query_timeout (${queryTimeoutMs}) needs a statement_timeout shorter than it: with statement_timeout=0 a statement waiting for a lock ` +
        'would be dropped as a network failure and could still commit once the lock is released. Set statement_timeout too, or query_timeout=0',
    );
  return {
    statementTimeoutMs,
    queryTimeoutMs,
    idleInTransactionTimeoutMs: given.idleInTransactionTimeoutMs ?? DEFAULT_LIMITS.idleInTransactionTimeoutMs,
    lockTimeoutMs: given.lockTimeoutMs ?? DEFAULT_LIMITS.lockTimeoutMs,
  };
}

function wholeMilliseconds(name: string, value: string): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n <= MAX_MS))
    throw new UrlParameterError(
      `${name} must be a whole number of milliseconds from 0 (none: the role's own applies) to ${MAX_MS} (a day), e.g. ${name}=30000; got "${value.slice(0, 40)}"`,
    );
  return n;
}
