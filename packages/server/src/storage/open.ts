import { SqliteStorage } from './sqlite.ts';
import type { Storage } from './port.ts';

/** `postgres://…` (optionally `?schema=name`) opens PostgreSQL; anything else is a SQLite file path. */
export async function openStorage(databaseUrl: string): Promise<Storage> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const url = new URL(databaseUrl);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    // Loaded only for PostgreSQL: the driver costs a SQLite start-up ~70 ms of CPU for nothing.
    const { PostgresStorage } = await import('./postgres.ts');
    return PostgresStorage.open({ connectionString: url.toString(), schema });
  }
  const filename = databaseUrl.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : databaseUrl;
  return new SqliteStorage(filename);
}
