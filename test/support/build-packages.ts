import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/**
 * Vitest globalSetup: brings the compiled server, CLI and SDK (dist/) up to date before any test
 * spawns `lanyard` or the demo, so a test never runs yesterday's build. `tsc -b` is incremental:
 * a no-op when nothing changed.
 */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '../..');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'packages/cli/tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The SDK's one-file bundle (@lanyard/sdk/bundle), quietly: the size line is for `npm run build`.
  execFileSync(process.execPath, ['packages/sdk/build.mjs'], { cwd: root, stdio: 'ignore' });
}
