import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = '@lanyard/cli';

/**
 * The version of this `lanyard` command: the `version` of @lanyard/cli's package.json, found by
 * walking up from this module. The same code runs from `src/` (tsx), `dist/` (tsc) and
 * `dist/bundle/` (what `bin/lanyard.js` runs, installed or in a clone): each sits below the
 * package's own folder. Returns "unknown" when no such package.json is found (a file copied
 * out of its package); never throws.
 */
export function cliVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const version = versionIn(join(dir, 'package.json'));
    if (version !== undefined) return version;
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** The version in `file` when it is @lanyard/cli's package.json; undefined for any other file, or none. */
function versionIn(file: string): string | undefined {
  try {
    const manifest: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof manifest !== 'object' || manifest === null) return undefined;
    const { name, version } = manifest as { name?: unknown; version?: unknown };
    return name === PACKAGE_NAME && typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}
