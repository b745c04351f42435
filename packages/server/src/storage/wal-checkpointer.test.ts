import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from './sqlite.ts';
import { SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.ts';

const dirs: string[] = [];
function databaseFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-wal-'));
  dirs.push(dir);
  return join(dir, 'lanyard.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
/** A database file of its own, opened in WAL mode as SqliteStorage opens it. */
function walDatabase(): { file: string; db: Database.Database } {
  const file = databaseFile();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return { file, db };
}
const sizeOf = (file: string) => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true }) as number;
const until = async (condition: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const record = (i: number) => ({ kind: 'k', id: `r${i}`, payload: { text: 'x'.repeat(500) }, expiresAt: Date.now() + 60_000 });

describe('WAL checkpoints on a worker thread', () => {
  it('copies the WAL into the database file without the main connection checkpointing', async () => {
    const file = databaseFile();
    const storage = new SqliteStorage(file);
    try {
      expect(storage.checkpointsInBackground).toBe(true);
      const before = sizeOf(file);
      // ~150 pages: far under the main connection's own threshold, which is now 10,000 pages.
      for (let i = 0; i < 300; i++) await storage.insert(record(i));
      await until(() => sizeOf(file) > before + 100 * 1024);
      expect((await storage.find('k', 'r299'))?.id).toBe('r299');
    } finally {
      await storage.close();
    }
    // Closing checkpointed the rest and removed the WAL; every record is in the database file.
    expect(sizeOf(`${file}-wal`)).toBe(0);
    const reopened = new SqliteStorage(file);
    try {
      expect((await reopened.list('k')).length).toBe(300);
    } finally {
      await reopened.close();
    }
  });

  it('keeps the WAL bounded under unbroken writes: past its cap the writer checkpoints once itself', async () => {
    const { file, db } = walDatabase();
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const checkpointer = WalCheckpointer.start(db, file, undefined, { intervalMs: 1000, mainThreadCapPages: 200 });
    try {
      expect(autocheckpoint(db)).toBe(200);
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      // 3,000 single-row transactions of one page each, with no pause the worker could use.
      for (let i = 0; i < 3000; i++) insert.run('y'.repeat(3000));
      // Without the cap the WAL would hold ~3,000+ frames (12 MB); with it, a few hundred.
      expect(sizeOf(`${file}-wal`)).toBeLessThan(400 * 4096);
    } finally {
      await checkpointer.stop();
      db.close();
    }
  });

  it('gives the checkpoints back to the main connection and warns when the worker fails', async () => {
    const { file, db } = walDatabase();
    const warnings: string[] = [];
    // The worker opens the file it is told of, which here does not exist: it fails at start.
    const checkpointer = WalCheckpointer.start(db, `${file}.missing`, (message) => warnings.push(message));
    try {
      await until(() => !checkpointer.running);
      expect(autocheckpoint(db)).toBe(SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES);
      expect(warnings.join('\n')).toMatch(/WAL checkpoint worker ended .*checkpoints run on the main thread again/);
    } finally {
      await checkpointer.stop();
      db.close();
    }
  });

  it('gives the checkpoints back when stopped, and starts no worker for an in-memory database', async () => {
    const { file, db } = walDatabase();
    const checkpointer = WalCheckpointer.start(db, file);
    expect(checkpointer.running).toBe(true);
    await checkpointer.stop();
    expect(checkpointer.running).toBe(false);
    expect(autocheckpoint(db)).toBe(SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES);
    db.close();

    const memory = new SqliteStorage(':memory:');
    expect(memory.checkpointsInBackground).toBe(false);
    await memory.close();
  });

  it('does not keep a process alive that never closes its storage (a CLI command failing on its configuration)', async () => {
    const file = databaseFile();
    const script = join(file, '..', 'open-and-leave.mts');
    const sqlite = fileURLToPath(new URL('./sqlite.ts', import.meta.url));
    writeFileSync(
      script,
      `import { SqliteStorage } from ${JSON.stringify(sqlite)};\n` +
        `const storage = new SqliteStorage(${JSON.stringify(file)});\n` +
        `await storage.insert({ kind: 'k', id: 'a', payload: {} });\n` +
        `console.log(storage.checkpointsInBackground ? 'worker' : 'no worker');\n`,
    );
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { timeout: 20_000 });
    expect(stdout.trim()).toBe('worker');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
