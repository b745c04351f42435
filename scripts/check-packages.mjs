// `npm run check:packages` (CI): the packages as a user gets them. Packs @lanyard/sdk,
// @lanyard/server and @lanyard/cli, installs the three tarballs into an empty folder, and runs
// `lanyard` from there: a CLI command on a fresh SQLite database, then `lanyard serve` until its
// /readyz answers 200 (after warming up), the public lookup and the console. Prints tarball sizes and the start-up time.
//
// Needs `npm run build` first. The install reuses this repository's compiled better-sqlite3 when
// the versions match (compiling SQLite again takes minutes and tests nothing of ours);
// CHECK_PACKAGES_NATIVE=1 compiles it as a user's install would (allowScripts approves it).
/* global fetch, performance, setTimeout, clearTimeout */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// A hung step must fail CI, not stall it.
setTimeout(() => {
  console.error('check-packages: timed out after 15 minutes');
  process.exit(1);
}, 15 * 60_000).unref();
const work = mkdtempSync(join(tmpdir(), 'lanyard-packages-'));
const app = join(work, 'app');
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const fail = (message) => {
  console.error(`check-packages: ${message}`);
  process.exitCode = 1;
};

let server;
try {
  // 1. Pack. prepack copies the built console into the server package.
  const packed = JSON.parse(
    npm(['pack', '--json', '--pack-destination', work, '-w', '@lanyard/sdk', '-w', '@lanyard/server', '-w', '@lanyard/cli'], root),
  );
  for (const p of packed) {
    console.log(
      `${p.filename.padEnd(28)} ${(p.size / 1024).toFixed(1).padStart(7)} KB packed  ${(p.unpackedSize / 1024).toFixed(1).padStart(7)} KB unpacked  ${p.entryCount} files`,
    );
    const files = p.files.map((f) => f.path);
    const sources = files.filter((f) => f.startsWith('src/') || /(^|\/)[^/]+\.test\.[jt]s$/.test(f) || f.endsWith('.tsbuildinfo'));
    if (sources.length) fail(`${p.name} ships sources, tests or build state: ${sources.slice(0, 5).join(', ')}`);
  }
  const files = (name) => packed.find((p) => p.name === name).files.map((f) => f.path);
  for (const [name, required] of [
    [
      '@lanyard/sdk',
      [
        'dist/index.js',
        'dist/index.d.ts',
        'dist/app-config.js',
        'dist/app-config.d.ts',
        'dist/token-verifier.js',
        'dist/token-verifier.d.ts',
        'dist/lanyard-sdk.js',
      ],
    ],
    ['@lanyard/server', ['dist/index.js', 'dist/index.d.ts', 'console-dist/index.html']],
    ['@lanyard/cli', ['bin/lanyard.js', 'dist/bundle/lanyard.mjs', 'dist/bundle/saml-verification-worker.mjs']],
  ]) {
    for (const file of required) if (!files(name).includes(file)) fail(`${name} is missing ${file}`);
  }

  // 2. Install the tarballs into an empty folder, as a user would (approving better-sqlite3's build).
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'lanyard-packages-check', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } }, null, 2),
  );
  const native = process.env.CHECK_PACKAGES_NATIVE === '1';
  const started = performance.now();
  npm(
    ['install', '--no-audit', '--no-fund', '--prefer-offline', ...(native ? [] : ['--ignore-scripts']), ...packed.map((p) => join(work, p.filename))],
    app,
  );
  if (!native) reuseCompiledSqlite();
  console.log(`installed the tarballs in ${((performance.now() - started) / 1000).toFixed(1)} s${native ? ' (better-sqlite3 compiled)' : ''}`);
  for (const loader of ['tsx', 'ts-node'])
    if (existsSync(join(app, 'node_modules', loader))) fail(`the install pulled in a TypeScript loader (${loader})`);

  // 3. The CLI on a fresh database.
  const env = {
    PATH: process.env.PATH,
    HOME: app,
    NODE_ENV: 'production',
    LANYARD_DATABASE_URL: `sqlite:${join(app, 'data', 'lanyard.db')}`,
    LANYARD_SECRET_KEY: randomBytes(32).toString('base64'),
  };
  const lanyard = join(app, 'node_modules', '.bin', 'lanyard');
  // The installed command's version is the packed CLI's (read from its own package.json, walking up from the bundle).
  const installedVersion = execFileSync(lanyard, ['--version'], { cwd: app, env, encoding: 'utf8' }).trim();
  const packedVersion = packed.find((p) => p.name === '@lanyard/cli').version;
  if (installedVersion !== packedVersion) fail(`lanyard --version printed "${installedVersion}", the packed @lanyard/cli is ${packedVersion}`);
  const account = JSON.parse(execFileSync(lanyard, ['accounts', 'create', '--name', 'Packaged', '--json'], { cwd: app, env, encoding: 'utf8' }));
  if (!/^AC[0-9a-f]{32}$/.test(account.sid)) fail(`accounts create printed no account SID: ${JSON.stringify(account)}`);
  const sdk = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "Promise.all([import('@lanyard/sdk/app-config'), import('@lanyard/sdk/token-verifier')]).then(([a, v]) => console.log(typeof a.validateAppConfig, typeof v.createDesktopTokenVerifier))",
    ],
    {
      cwd: app,
      encoding: 'utf8',
    },
  );
  if (sdk.trim() !== 'function function') fail(`@lanyard/sdk/app-config or @lanyard/sdk/token-verifier did not import in Node: ${sdk}`);

  // 4. `npx lanyard serve` until it answers.
  const spawned = performance.now();
  // Its own process group: npx runs lanyard as a child, and the stop below signals both.
  server = spawn('npx', ['--no-install', 'lanyard', 'serve', '--port', '0', '--json'], {
    cwd: app,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Everything it prints on stdout: its URL first, then log lines (where the SAML verification workers run).
  let serverLog = '';
  server.stdout.on('data', (chunk) => (serverLog += chunk));
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lanyard serve printed no URL within 30 s: ${serverLog}`)), 30_000);
    // After the listener above: serverLog holds this chunk already.
    server.stdout.on('data', () => {
      const line = serverLog.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).url);
      }
    });
    server.once('exit', (code) => reject(new Error(`lanyard serve exited with ${code}: ${serverLog}`)));
  });
  const listening = performance.now() - spawned;
  // Serving from here; /readyz answers 503 "warming" until the SAML workers and modules are loaded.
  let ready = await fetch(`${url}/readyz`);
  while (ready.status === 503 && (await ready.json()).status === 'warming' && performance.now() - spawned < listening + 15_000) {
    await new Promise((r) => setTimeout(r, 20));
    ready = await fetch(`${url}/readyz`);
  }
  console.log(
    `npx lanyard serve: listening after ${listening.toFixed(0)} ms (spawn through npx), /readyz ${ready.status} after ${(performance.now() - spawned).toFixed(0)} ms`,
  );
  if (ready.status !== 200) fail(`/readyz answered ${ready.status}`);
  const lookup = await fetch(`${url}/v1/Flex/Authentication/Config?AccountSid=${account.sid}`);
  if (lookup.status !== 200) fail(`the public lookup for the CLI's account answered ${lookup.status}`);
  const consolePage = await fetch(`${url}/console/`);
  const html = await consolePage.text();
  if (consolePage.status !== 200 || html.includes('has not been built')) fail(`the console is not served from the package (${consolePage.status})`);
  // The worker is a file of its own in the bundle: a missing or broken one falls back to the main thread, with a warning.
  const workersStarted = Date.now();
  while (!serverLog.includes('SAML responses are verified') && Date.now() - workersStarted < 15_000) await new Promise((r) => setTimeout(r, 100));
  const where = serverLog.match(/SAML responses are verified ([^"]*)/)?.[1];
  if (!where?.startsWith('on ') || !where.includes('worker thread'))
    fail(`the SAML verification workers did not start from the package: ${where ?? 'no report within 15 s'}`);
  // Signal the whole group, as Ctrl-C would; SIGKILL it if it does not stop within 15 s.
  process.kill(-server.pid, 'SIGTERM');
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('no exit within 15 s'), 15_000))]);
  if (code === 'no exit within 15 s') process.kill(-server.pid, 'SIGKILL');
  if (code !== 0 && code !== 'SIGTERM') fail(`lanyard serve exited with ${code} on SIGTERM`);
  if (!process.exitCode) console.log('check-packages: OK');
} catch (error) {
  fail(error.stack ?? String(error));
} finally {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
}

/** Copies this repository's compiled better_sqlite3.node when the installed version is the same. */
function reuseCompiledSqlite() {
  const installed = join(app, 'node_modules', 'better-sqlite3');
  const ours = join(root, 'node_modules', 'better-sqlite3');
  const version = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  if (existsSync(join(ours, 'build', 'Release', 'better_sqlite3.node')) && version(installed) === version(ours)) {
    cpSync(join(ours, 'build', 'Release', 'better_sqlite3.node'), join(installed, 'build', 'Release', 'better_sqlite3.node'));
  } else {
    console.log(`better-sqlite3 ${version(installed)} differs from the repository's: compiling it`);
    npm(['rebuild', 'better-sqlite3'], app);
  }
}
