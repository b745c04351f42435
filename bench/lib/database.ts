import { createTestDatabase, type Backend, type TestDatabase } from '../../test/support/backends.ts';

export type { Backend };
/** The PostgreSQL server the bench uses (its `bench_…` schemas): BENCH_POSTGRES_URL, or the local `test` database. */
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh SQLite file in a temp dir, or a fresh `bench_…` PostgreSQL schema; `drop` removes it. */
export function freshDatabase(backend: Backend): Promise<TestDatabase> {
  return createTestDatabase(backend, POSTGRES_URL, 'bench');
}
