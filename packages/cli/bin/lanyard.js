#!/usr/bin/env node
// The compiled CLI: dist/bundle/lanyard.mjs, the CLI and the server bundled by esbuild
// (packages/cli/build.mjs), no TypeScript loader at run time. In a clone of the repository
// `npm start`, `npm test` and `npm run build` build it.
try {
  await import('../dist/bundle/lanyard.mjs');
} catch (error) {
  const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/cli/dist/bundle/lanyard.mjs');
  if (!missing) throw error;
  process.stderr.write('lanyard: the CLI is not built (no dist/bundle/lanyard.mjs): run `npm run build` in the Lanyard repository.\n');
  process.exitCode = 1;
}
