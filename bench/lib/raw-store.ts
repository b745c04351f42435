import Database from 'better-sqlite3';
import pg from 'pg';
import { WalCheckpointer } from '../../packages/server/src/storage/wal-checkpointer.ts';

/** The raw storage write of a refresh rotation, with no framework around it (a baseline). */
export interface RawStore {
  seed(ids: string[]): Promise<void>;
  /** Spends `id` (if unspent) and stores `successor`, in one transaction. */
  rotate(id: string, successor: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * @param options.checkpointsOnWorker SQLite only: WAL checkpoints on a worker thread, as Lanyard
 *   runs them (storage/wal-checkpointer.ts), instead of SQLite's default on the writer's thread
 */
export async function openRawStore(url: string, options: { checkpointsOnWorker?: boolean } = {}): Promise<RawStore> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // A baseline that fell back to main-thread checkpoints would measure something else than its
    // line says: it fails the run instead.
    const checkpointer = options.checkpointsOnWorker
      ? WalCheckpointer.start(db, file, (message) => {
          throw new Error(`raw store: ${message}`);
        })
      : undefined;
    db.exec('CREATE TABLE IF NOT EXISTS raw_refresh (id TEXT PRIMARY KEY, spent_at INTEGER, expires_at INTEGER NOT NULL)');
    const spend = db.prepare('UPDATE raw_refresh SET spent_at = ? WHERE id = ? AND spent_at IS NULL');
    const insert = db.prepare('INSERT INTO raw_refresh (id, spent_at, expires_at) VALUES (?, NULL, ?)');
    const rotate = db.transaction((id: string, successor: string) => {
      const now = Date.now();
      if (spend.run(now, id).changes !== 1) return false;
      insert.run(successor, now + 86_400_000);
      return true;
    });
    return {
      seed: async (ids) => {
        db.transaction(() => ids.forEach((id) => insert.run(id, Date.now() + 86_400_000)))();
      },
      rotate: async (id, successor) => rotate(id, successor),
      close: async () => {
        await checkpointer?.stop();
        db.close();
      },
    };
  }
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? 'public';
  parsed.searchParams.delete('schema');
  const pool = new pg.Pool({ connectionString: parsed.toString(), max: 10, options: `-c search_path=${schema}` });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query('CREATE TABLE IF NOT EXISTS raw_refresh (id TEXT PRIMARY KEY, spent_at BIGINT, expires_at BIGINT NOT NULL)');
  return {
    async seed(ids) {
      await pool.query('INSERT INTO raw_refresh (id, spent_at, expires_at) SELECT unnest($1::text[]), NULL, $2', [ids, Date.now() + 86_400_000]);
    },
    async rotate(id, successor) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const now = Date.now();
        const spent = await client.query('UPDATE raw_refresh SET spent_at = $1 WHERE id = $2 AND spent_at IS NULL', [now, id]);
        if (spent.rowCount !== 1) {
          await client.query('ROLLBACK');
          return false;
        }
        await client.query('INSERT INTO raw_refresh (id, spent_at, expires_at) VALUES ($1, NULL, $2)', [successor, now + 86_400_000]);
        await client.query('COMMIT');
        return true;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
