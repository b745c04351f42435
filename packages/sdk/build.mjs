// Builds dist/lanyard-sdk.js (everything the SDK exports, one minified ESM file for a plain
// <script type="module">) and reports its size, plain and gzipped. The per-module ESM and .d.ts
// files beside it come from `tsc -b tsconfig.build.json`.
//
// --check: fails when the bundle is over the size budget below (CI runs `npm run size`). Raise the
// budget only on purpose: every desktop downloads the SDK before an agent can sign in.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/**
 * Minified + gzip bytes of the whole SDK. 12 KiB until session 20, raised by 256 bytes for a
 * limit on every request to Lanyard (requestTimeoutMs): a request a proxy held without an answer
 * held the refresh, in every tab, until the session ran out.
 */
export const GZIP_BUDGET = 12 * 1024 + 256;

const outfile = new URL('./dist/lanyard-sdk.js', import.meta.url);
const result = await build({
  entryPoints: [new URL('./src/index.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  write: false,
});
const code = result.outputFiles[0].contents;
mkdirSync(new URL('./dist/', import.meta.url), { recursive: true });
writeFileSync(outfile, code);
const gzip = gzipSync(code, { level: 9 }).length;
console.log(`dist/lanyard-sdk.js  ${code.length} bytes minified, ${gzip} bytes minified+gzip (budget ${GZIP_BUDGET})`);
if (process.argv.includes('--check') && gzip > GZIP_BUDGET) {
  console.error(`The SDK is ${gzip - GZIP_BUDGET} bytes over its budget of ${GZIP_BUDGET} bytes minified+gzip.`);
  process.exit(1);
}

// The routing service worker for desktops running the real Flex UI (docs/flex-ui.md): a classic script.
const worker = await build({
  entryPoints: [new URL('./src/flex-hosts-worker.ts', import.meta.url).pathname],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  write: false,
});
writeFileSync(new URL('./dist/lanyard-flex-hosts-worker.js', import.meta.url), worker.outputFiles[0].contents);
console.log(`dist/lanyard-flex-hosts-worker.js  ${worker.outputFiles[0].contents.length} bytes minified`);
