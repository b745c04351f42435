// Builds dist/bundle/: the `lanyard` command as production runs it (bin/lanyard.js loads
// dist/bundle/lanyard.mjs). esbuild bundles the CLI, the server and the SDK from their TypeScript
// sources together with the ES-module packages they load at start (zod, jose, hono,
// @hono/node-server): Node then loads a few files instead of ~330, which is most of a start-up
// (issue 16: `lanyard serve` ready in under 0.5 s). Every other package stays a plain `import`,
// resolved from node_modules at run time: native code (better-sqlite3), packages that start their
// own workers or read files beside themselves (piscina, pino), and CommonJS. Those must be
// dependencies of @lanyard/cli itself, so that a published install finds them: the build checks
// every `import` of the output; a package loaded through createRequire (prom-client, in
// operations/metrics.ts) it cannot see, and `npm run check:packages` starts the packed server.
//
// Code splitting keeps every `await import()` its own chunk, loaded on first use (PostgreSQL, the
// SAML modules, the OpenAPI document). The SAML verification worker is an entry of its own beside
// the chunk that starts it (saml-verification-pool.ts looks for it there).
import { build } from 'esbuild';
import { existsSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Packages bundled into the output: ES modules, no native code, nothing read from beside themselves. */
export const BUNDLED_PACKAGES = new Set(['@lanyard/server', '@lanyard/sdk', 'zod', 'jose', 'hono', '@hono/node-server']);

const serverSource = fileURLToPath(new URL('../server/src/', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Bundles `entryPoints` (name → TypeScript file) and the SAML verification worker into `outdir`
 * as `<name>.mjs` plus shared chunks. Resolves the external packages it imports (names).
 * @param {{ entryPoints: Record<string, string>, outdir: string }} options
 * @returns {Promise<Set<string>>}
 */
export async function bundleServer({ entryPoints, outdir }) {
  // Written beside the output and swapped in at the end: a command started during the build
  // finds the previous bundle whole, not a half-written one or none.
  const target = resolve(outdir);
  const next = `${target}.next`;
  rmSync(next, { recursive: true, force: true });
  const result = await build({
    entryPoints: { ...entryPoints, 'saml-verification-worker': `${serverSource}connections/saml-verification-worker.ts` },
    outdir: next,
    // Chunk names hash their content and their paths relative to this directory: the same
    // sources give the same file names wherever the build runs from, so rebuilding unchanged
    // sources does not pull the chunks from under a running server.
    absWorkingDir: repositoryRoot,
    // For stack traces: `node --enable-source-maps` (NODE_OPTIONS) maps them to the sources.
    sourcemap: 'linked',
    sourcesContent: false,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The workspace packages from their sources (their exports' "lanyard-source" condition).
    conditions: ['lanyard-source'],
    // Not the repository's tsconfig.json: its `paths` point xml-crypto and @xmldom/xmldom at
    // ./node_modules for type-checking, which would pull those CommonJS packages into the bundle.
    tsconfigRaw: {},
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        // zod's translations of its own messages into ~45 languages (366 KB, a quarter of the
        // bundle, parsed at every start): Lanyard never selects one (z.config), so the locales
        // namespace keeps only English, which zod uses by default.
        name: 'zod-english-only',
        setup(esbuild) {
          esbuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, ({ importer, resolveDir }) =>
            /[\\/]node_modules[\\/]zod[\\/]/.test(importer)
              ? { path: 'zod/v4/locales/index.js', namespace: 'zod-english-only', pluginData: join(resolveDir, '..', 'locales') }
              : undefined,
          );
          esbuild.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, ({ pluginData }) => ({
            contents: "export { default as en } from './en.js';",
            resolveDir: pluginData,
          }));
        },
      },
      {
        name: 'external-packages',
        setup(esbuild) {
          esbuild.onResolve({ filter: /^[^./]/ }, ({ path }) => (BUNDLED_PACKAGES.has(packageName(path)) ? undefined : { path, external: true }));
        },
      },
    ],
  });
  const previous = `${target}.previous`;
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, previous);
  renameSync(next, target);
  rmSync(previous, { recursive: true, force: true });
  const external = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const { path, external: isExternal } of output.imports) {
      if (isExternal && !path.startsWith('node:') && !builtinModules.includes(path)) external.add(packageName(path));
    }
  }
  return external;
}

/** `@scope/name` or `name` of an import specifier such as `prom-client/lib/registry`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// Run as a script (`node packages/cli/build.mjs`, through a symlinked path too), not imported by the bench.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const external = await bundleServer({
    entryPoints: { lanyard: fileURLToPath(new URL('./src/main.ts', import.meta.url)) },
    outdir: fileURLToPath(new URL('./dist/bundle/', import.meta.url)),
  });
  const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  const undeclared = [...external].filter((name) => !Object.hasOwn(manifest.dependencies ?? {}, name));
  if (undeclared.length) {
    console.error(
      `packages/cli/build.mjs: the bundle loads packages at run time that packages/cli/package.json does not list in "dependencies" (a published install would not find them): ${undeclared.join(', ')}. Add them there, or to BUNDLED_PACKAGES if they are ES modules with no native code.`,
    );
    process.exit(1);
  }
  // The same versions the server is built and tested with (its package.json), not a second list that drifts.
  const server = JSON.parse(readFileSync(new URL('../server/package.json', import.meta.url), 'utf8'));
  const drifted = [...external].filter(
    (name) => Object.hasOwn(server.dependencies, name) && server.dependencies[name] !== manifest.dependencies[name],
  );
  if (drifted.length) {
    console.error(
      `packages/cli/build.mjs: packages/cli/package.json asks for other versions than packages/server/package.json: ${drifted.map((name) => `${name} ${manifest.dependencies[name]} (server: ${server.dependencies[name]})`).join(', ')}. Give both the server's range.`,
    );
    process.exit(1);
  }
  console.log(`dist/bundle/lanyard.mjs  the lanyard command, bundled (run-time packages: ${[...external].sort().join(', ')})`);
}
