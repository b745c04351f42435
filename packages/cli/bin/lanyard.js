#!/usr/bin/env node
// The compiled CLI (dist/, built by `tsc -b`): no TypeScript loader at run time. In a clone of the
// repository `npm start`, `npm test` and `npm run build` build it.
try {
  await import('../dist/main.js');
} catch (error) {
  const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/cli/dist/main.js');
  if (!missing) throw error;
  process.stderr.write('lanyard: the CLI is not built (no dist/main.js): run `npm run build` in the Lanyard repository.\n');
  process.exitCode = 1;
}
