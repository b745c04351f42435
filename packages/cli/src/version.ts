import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = '@lanyard/cli';

/**
 * The version of this `lanyard` command: the `version` of @lanyard/cli's package.json, the first
 * one named so on the way up from `from` (default: this module's folder). The same code runs from
 * `src/` (tsx), `dist/` (tsc) and `dist/bundle/` (what `bin/lanyard.js` runs, installed or in a
 * clone): each sits below the package's own folder. Other package.json files on the way (a
 * deployment folder's, the repository's `lanyard`) are passed over. Returns "unknown" when none
 * is found (a file copied out of its package); never throws.
 */
export function cliVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const version = versionIn(join(dir, 'package.json'));
    if (version !== undefined) return version;
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** The version in `file` when it is @lanyard/cli's package.json; undefined for any other file, or none. */
function versionIn(file: string): string | undefined {
  try {
    // A regular file only: a FIFO or a device in its place would block the read.
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return undefined;
    // Node and npm accept a package.json that starts with a byte-order mark; JSON.parse does not.
    const manifest: unknown = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    if (typeof manifest !== 'object' || manifest === null) return undefined;
    const { name, version } = manifest as { name?: unknown; version?: unknown };
    // Printed as it is: a version is a short semver string, nothing to show a terminal.
    return name === PACKAGE_NAME && typeof version === 'string' && /^[\w.+-]{1,64}$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `lanyard --version` (or `-V`), alone or with `--json` only: the version, as text or as
 * `{ "version": … }`. Undefined for any other command line, which commander then parses: a `-V`
 * anywhere else stays what it was (an option's value, `accounts create --name -V`, or a usage
 * error), which commander's own global version option would have taken over.
 */
export function versionRequest(args: readonly string[]): { json: boolean } | undefined {
  const flags = new Set(args);
  const version = flags.has('--version') || flags.has('-V');
  if (!version || args.length !== flags.size || args.length > 2) return undefined;
  if (args.length === 1) return { json: false };
  return flags.has('--json') ? { json: true } : undefined;
}
