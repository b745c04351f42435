// Builds dist/lanyard-sdk.js (minified ESM for browsers) and reports its size, plain and gzipped.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

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
console.log(`dist/lanyard-sdk.js  ${code.length} bytes minified, ${gzip} bytes minified+gzip`);

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
