/**
 * Numbered schema migrations, one list per backend. Applied in order at start; each runs once
 * and is recorded in `lanyard_migrations`. Never edit a shipped migration: add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * PostgreSQL only: false for a statement that cannot run in a transaction (`… CONCURRENTLY`).
   * It must then be safe to run again (`IF EXISTS`): a node stopped between the statement and
   * recording it runs it again at its next start.
   */
  transactional?: boolean;
}

export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'records',
    sql: `
      CREATE TABLE records (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        account_sid TEXT,
        lookup TEXT,
        family TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        consumed_at INTEGER,
        PRIMARY KEY (kind, id)
      );
      CREATE UNIQUE INDEX records_lookup ON records (kind, lookup) WHERE lookup IS NOT NULL;
      CREATE INDEX records_account ON records (kind, account_sid, created_at);
      CREATE INDEX records_family ON records (family) WHERE family IS NOT NULL;
      CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'records_account only for records with an account',
    // Refresh tokens (one written per refresh grant) carry no account: an index entry is
    // written on every grant, and this one served no query of theirs.
    sql: `
      DROP INDEX records_account;
      CREATE INDEX records_account ON records (kind, account_sid, created_at) WHERE account_sid IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'no records_family index',
    // Every grant writes a refresh token, and each paid an entry in this index: no query of the
    // server reads by family (a session's revocation is the session record's), so the entry was
    // one more B-tree page written per grant for nothing. `list({ family })` still answers.
    sql: `DROP INDEX IF EXISTS records_family;`,
  },
  {
    version: 4,
    name: 'user-case-variants records for accounts that have such users',
    // users/user-service.ts CASE_VARIANTS_RECORD_KIND: a first sign-in looks for a user under
    // another letter case only in accounts with this record. Written for every account holding
    // a user whose e-mail-form unique id may not be in lower case: an ASCII capital or any
    // character beyond ASCII (whose case SQL folds differently from JavaScript) counts, and so
    // does a NUL (LIKE and GLOB stop reading at it; PostgreSQL cannot store one).
    sql: `
      INSERT OR IGNORE INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at, consumed_at)
      SELECT DISTINCT 'user-case-variants', account_sid, account_sid, NULL, NULL, '{}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, NULL, NULL
      FROM records
      WHERE kind = 'user' AND account_sid IS NOT NULL
        AND (
          instr(payload, '\\u0000') > 0
          OR (json_extract(payload, '$.uniqueId') LIKE '%_@_%'
            AND (json_extract(payload, '$.uniqueId') GLOB '*[A-Z]*' OR json_extract(payload, '$.uniqueId') GLOB '*[^ -~]*'))
        );
    `,
  },
];

export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'records',
    sql: `
      CREATE TABLE records (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        account_sid TEXT,
        lookup TEXT,
        family TEXT,
        payload JSONB NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        consumed_at BIGINT,
        PRIMARY KEY (kind, id)
      );
      CREATE UNIQUE INDEX records_lookup ON records (kind, lookup) WHERE lookup IS NOT NULL;
      CREATE INDEX records_account ON records (kind, account_sid, created_at);
      CREATE INDEX records_family ON records (family) WHERE family IS NOT NULL;
      CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'records_account only for records with an account',
    // Refresh tokens (one written per refresh grant) carry no account: an index entry is
    // written on every grant, and this one served no query of theirs.
    sql: `
      DROP INDEX records_account;
      CREATE INDEX records_account ON records (kind, account_sid, created_at) WHERE account_sid IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'no records_family index',
    // As on SQLite. CONCURRENTLY: a plain DROP INDEX waits for an ACCESS EXCLUSIVE lock behind
    // any open transaction on `records` (a pg_dump holds one for the whole dump), and every query
    // of every node would queue behind it; this waits without blocking anyone.
    sql: `DROP INDEX CONCURRENTLY IF EXISTS records_family`,
    transactional: false,
  },
  {
    version: 4,
    name: 'user-case-variants records for accounts that have such users',
    // As on SQLite (payload is JSONB here).
    sql: `
      INSERT INTO records (kind, id, account_sid, lookup, family, payload, created_at, expires_at, consumed_at)
      SELECT DISTINCT 'user-case-variants', account_sid, account_sid, NULL::text, NULL::text, '{}'::jsonb, (extract(epoch FROM now()) * 1000)::bigint, NULL::bigint, NULL::bigint
      FROM records
      WHERE kind = 'user' AND account_sid IS NOT NULL
        AND payload->>'uniqueId' LIKE '%_@_%'
        AND payload->>'uniqueId' ~ '[A-Z]|[^ -~]'
      ON CONFLICT DO NOTHING
    `,
  },
];
