import { resolve } from 'node:path';

/**
 * A database URL as an operator should see it: a SQLite path made absolute (relative paths
 * depend on the working directory, the usual reason two tools "share" different files) and a
 * PostgreSQL password masked, so the label can be printed and logged.
 */
export function databaseLabel(databaseUrl: string): string {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    try {
      const url = new URL(databaseUrl);
      if (url.password) url.password = '***';
      return url.toString();
    } catch {
      return 'postgres://(unparseable URL)';
    }
  }
  const filename = databaseUrl.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : databaseUrl;
  return filename === ':memory:' ? 'sqlite::memory:' : `sqlite:${resolve(filename)}`;
}
