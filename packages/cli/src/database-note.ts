import { existsSync } from 'node:fs';
import { databaseLabel } from '@lanyard/server/storage/database-label.ts';

const DEFAULT_DATABASE = 'sqlite:.lanyard/lanyard.db';
const DEMO_DATABASE = 'sqlite:.lanyard/demo.db';

/**
 * The line a command prints (stderr, text mode) to say which database it changed or read, and
 * whether this very command created it (`createdNow`, Storage.createdNow). When
 * LANYARD_DATABASE_URL is unset and the demo's database sits beside the default one, it says
 * how to reach the demo's instead: `npm start` keeps its own file, and a key created in one
 * database is refused by a server on the other.
 */
export function databaseNote(env: NodeJS.ProcessEnv = process.env, createdNow = false): string {
  const configured = env.LANYARD_DATABASE_URL;
  const url = configured ?? DEFAULT_DATABASE;
  const source = configured ? 'LANYARD_DATABASE_URL' : 'the default; set LANYARD_DATABASE_URL to use another';
  let note = `lanyard: database ${databaseLabel(url)} (${source})`;
  // A new deployment starts this way; an existing one only when the URL names another database.
  if (createdNow)
    note += `\nlanyard: it was empty: Lanyard's tables were created in it now. If you expected existing accounts, check LANYARD_DATABASE_URL (${/^postgres/.test(url) ? 'the schema= parameter and the database name' : 'the file path'}).`;
  if (!configured && existsSync(DEMO_DATABASE.slice('sqlite:'.length))) {
    note += `\nlanyard: the demo (npm start) uses ${DEMO_DATABASE}: run with LANYARD_DATABASE_URL=${DEMO_DATABASE} to administer it`;
  }
  return note + '\n';
}
