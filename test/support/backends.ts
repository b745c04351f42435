import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Storage backends the integration suite runs against: both, always (PostgreSQL on 127.0.0.1). */
export type Backend = 'sqlite' | 'postgres';
export const BACKENDS: Backend[] = (process.env.LANYARD_TEST_BACKENDS?.split(',') as Backend[] | undefined) ?? ['sqlite', 'postgres'];

export const POSTGRES_URL = process.env.LANYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh SQLite file or a fresh PostgreSQL schema, dropped afterwards. */
export async function createTestDatabase(backend: Backend, postgresUrl = POSTGRES_URL, prefix = 't'): Promise<TestDatabase> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `lanyard-${prefix}-`));
    return { url: `sqlite:${join(dir, 'lanyard.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    url: `${postgresUrl}?schema=${schema}`,
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
