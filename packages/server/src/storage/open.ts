import { ConfigError } from '../errors.ts';
import { SqliteStorage, type SqliteOptions } from './sqlite.ts';
import type { Storage } from './port.ts';
import { LIMIT_PARAMETERS, takeLimits, UrlParameterError } from './postgres-limits.ts';

/**
 * Opens the database named by LANYARD_DATABASE_URL. A value the database itself refuses (a file
 * that cannot be written, an unknown host, user or database) is the operator's mistake: a
 * ConfigError naming the variable (the CLI exits 2), and so is a server that does not answer at
 * start (README "Configuration"); once running, a lost database is a 503 (StorageUnavailableError).
 * `options.onWarning` hears what an operator should see (a migration that may wait, a failed
 * SQLite checkpoint).
 */
export async function openStorage(databaseUrl: string, options: SqliteOptions = {}): Promise<Storage> {
  try {
    return await openNamed(databaseUrl, options);
  } catch (error) {
    const cause = ((error as { cause?: unknown }).cause ?? error) as { code?: string; message?: string };
    const code = cause.code ?? '';
    const shown = databaseUrl.replace(/\/\/[^@/]*@/, '//…@');
    const configError = (detail: string) => new ConfigError(`Invalid configuration:\n  LANYARD_DATABASE_URL (${shown}): ${detail}`);
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      // Not the URL: the install. better-sqlite3's compiled part is missing (its install script
      // did not run) or was built for another Node.js.
      if (SQLITE_DRIVER_NOT_BUILT.test(cause.message ?? ''))
        throw new ConfigError(
          `Cannot open ${shown}: the SQLite driver (better-sqlite3) is not built for this Node.js ${process.version} (${(cause.message ?? '').split('\n')[0]!.slice(0, 160)}). ` +
            'Run `npm rebuild better-sqlite3` where Lanyard is installed (npm 11: allow its install script first, "allowScripts": {"better-sqlite3": true} in package.json), or use PostgreSQL (LANYARD_DATABASE_URL=postgres://…).',
        );
      throw configError((error as Error).message);
    }
    if (code === '28P01' || code === '28000') throw configError(`PostgreSQL refused the user or password (${code})`);
    if (code === '3D000') throw configError('the database does not exist; create it first (createdb)');
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw configError('the database host name does not resolve');
    // Nothing answers (or the connection was cut before PostgreSQL spoke): at start that is the
    // URL's host or port, or a server that is down, and a restart by the supervisor retries.
    if (
      ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) ||
      /Connection terminated unexpectedly|connection timeout/i.test(cause.message ?? '')
    )
      throw configError(
        `no PostgreSQL answers at ${new URL(databaseUrl).host || 'the default host'} (${code || (cause.message ?? '').slice(0, 80)}): check the host and port, and that the server runs and accepts connections from here`,
      );
    if (error instanceof UrlParameterError) throw configError(error.message);
    throw error;
  }
}

/** What bindings and Node say when better-sqlite3's .node file is absent or built for another Node.js. */
const SQLITE_DRIVER_NOT_BUILT = /Could not locate the bindings file|NODE_MODULE_VERSION|invalid ELF header|better_sqlite3\.node/;

/** Every parameter Lanyard reads itself (and removes before the driver sees the URL). */
const OWN_PARAMETERS: ReadonlySet<string> = new Set(['schema', 'prepared_statements', ...LIMIT_PARAMETERS.keys()]);

async function openNamed(databaseUrl: string, options: SqliteOptions): Promise<Storage> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const url = new URL(databaseUrl);
    // `postgres://…/lanyard&prepared_statements=false` (no `?`) names a database that cannot exist.
    if (/[&=]/.test(url.pathname))
      throw new UrlParameterError(
        `the database name "${url.pathname.slice(1)}" holds a parameter: parameters go after "?" (…/lanyard?prepared_statements=false)`,
      );
    // Lanyard's own parameters are `schema`, `prepared_statements` and the timeouts; the others go
    // to the driver (sslmode, application_name…). A near miss of ours would be passed on and
    // ignored: refused.
    for (const name of url.searchParams.keys()) {
      if (OWN_PARAMETERS.has(name)) continue;
      // The driver would send it in place of Lanyard's own (search_path and the limits).
      if (name === 'options')
        throw new UrlParameterError(
          "options is not accepted: Lanyard sets the connection's options itself (its schema and limits); set other server settings on the role instead (ALTER ROLE … SET …)",
        );
      if (/timeout/i.test(name))
        throw new UrlParameterError(
          `${name} is not a parameter Lanyard reads; the timeouts are ${[...LIMIT_PARAMETERS.keys()].join(', ')} (milliseconds)`,
        );
      if (!/prepare|schema|search_path/i.test(name)) continue;
      const meant = /prepare/i.test(name) ? 'prepared_statements=false' : 'schema=<name>';
      throw new UrlParameterError(`${name} is not a parameter Lanyard reads; did you mean ${meant}?`);
    }
    // A setting given twice is ambiguous (which one wins depends on the reader): refused.
    for (const name of OWN_PARAMETERS)
      if (url.searchParams.getAll(name).length > 1) throw new UrlParameterError(`${name} is given more than once; give it once`);
    const limits = takeLimits(url);
    const schema = url.searchParams.get('schema') ?? undefined;
    const prepared = url.searchParams.get('prepared_statements');
    if (prepared !== null && prepared !== 'true' && prepared !== 'false')
      throw new UrlParameterError('prepared_statements must be true or false (false behind PgBouncer in transaction mode before 1.21)');
    url.searchParams.delete('schema');
    url.searchParams.delete('prepared_statements');
    // Loaded only for PostgreSQL: the driver costs a SQLite start-up ~70 ms of CPU for nothing.
    const { PostgresStorage } = await import('./postgres.ts');
    return PostgresStorage.open({
      connectionString: url.toString(),
      schema,
      preparedStatements: prepared !== 'false',
      onWarning: options.onWarning,
      limits,
    });
  }
  const filename = databaseUrl.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : databaseUrl;
  return new SqliteStorage(filename, options);
}
