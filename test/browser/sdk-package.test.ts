import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';
import { launchChromium } from './support/demo-stack.ts';

const ACCOUNT = 'AC' + '0'.repeat(32);

/** The page script: the SDK as a desktop uses it, writing what it saw into the page. */
const pageScript = (specifier: string) => `
import { LanyardClient, validateAppConfig, ConfigError } from '${specifier}';
const bad = validateAppConfig({ sso: { accountSid: 'nope' } }, { pageUrl: location.href });
const client = LanyardClient.fromAppConfig(
  { sso: { accountSid: '${ACCOUNT}' }, oauth: { connection: 'JQ' + '1'.repeat(32), clientId: 'desktop', redirectUrl: location.origin + '/', serviceBaseUrl: 'http://127.0.0.1:9' } },
  { pageUrl: location.href, storage: 'memory' },
);
let thrown = null;
try { LanyardClient.fromAppConfig({}, { pageUrl: location.href }); } catch (error) { thrown = error instanceof ConfigError ? error.code : String(error); }
// A legacy sign-in whose authenticate request gets no answer (/stall holds it open): it fails
// at requestTimeoutMs instead of waiting for ever.
const held = LanyardClient.fromAppConfig(
  { serviceBaseUrl: location.origin, sso: { accountSid: '${ACCOUNT}', loginUrl: location.origin + '/stall' } },
  { pageUrl: location.href, storage: 'memory', channel: null, requestTimeoutMs: 400 },
);
const started = performance.now();
let unanswered = null;
try { await held.signIn(); } catch (error) { unanswered = { code: error.code, message: error.message, ms: Math.round(performance.now() - started) }; }
document.body.dataset.result = JSON.stringify({ ok: bad.ok, fields: bad.ok ? [] : bad.problems.map((p) => p.field), mode: client.mode, session: client.getSession(), thrown, unanswered });
`;

/**
 * @lanyard/sdk as a desktop gets it from npm: the packed tarball, unpacked into an empty
 * folder's node_modules, imported by a Vite-built page and by plain `<script type="module">`
 * pages (an import map to the ESM files, and the one-file bundle), in Chromium.
 */
describe('@lanyard/sdk from its npm tarball (Vite build and plain ES modules, Chromium)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lanyard-sdk-package-'));
  const app = join(work, 'app');
  let server: Server;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', work, '-w', '@lanyard/sdk'], { cwd: ROOT, encoding: 'utf8' }),
    ) as Array<{
      filename: string;
    }>;
    const target = join(app, 'node_modules', '@lanyard', 'sdk');
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, packed!.filename), '-C', target, '--strip-components=1']);
    writeFileSync(join(app, 'index.html'), '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>');
    writeFileSync(join(app, 'main.js'), pageScript('@lanyard/sdk'));
    await build({ root: app, configFile: false, logLevel: 'silent', base: './', build: { outDir: join(app, 'vite-dist'), emptyOutDir: true } });
    writeFileSync(
      join(app, 'plain.html'),
      `<!doctype html><html><head><script type="importmap">{"imports":{"@lanyard/sdk":"/node_modules/@lanyard/sdk/dist/index.js"}}</script></head><body><script type="module">${pageScript('@lanyard/sdk')}</script></body></html>`,
    );
    writeFileSync(
      join(app, 'bundle.html'),
      `<!doctype html><html><body><script type="module">${pageScript('/node_modules/@lanyard/sdk/dist/lanyard-sdk.js')}</script></body></html>`,
    );
    server = createServer((req, res) => {
      // Held open without an answer, as a proxy that lost its upstream does.
      if (req.url === '/stall') return;
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
      readFile(join(app, path)).then(
        (body) => res.writeHead(200, { 'content-type': extname(path) === '.html' ? 'text/html' : 'text/javascript' }).end(body),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });

  async function resultOf(path: string) {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${url}${path}`);
      await page.locator('body[data-result]').waitFor({ state: 'attached' });
      expect(errors).toEqual([]);
      return JSON.parse((await page.locator('body').getAttribute('data-result'))!);
    } finally {
      await page.close();
    }
  }

  const expected = {
    ok: false,
    fields: expect.arrayContaining(['sso.accountSid']),
    mode: 'enhanced',
    session: null,
    thrown: 'config_invalid',
    unanswered: {
      code: 'network_error',
      message: expect.stringMatching(/^No answer from the sign-in server at http:\/\/127\.0\.0\.1:\d+ in time \(requestTimeoutMs\)\. /),
      ms: expect.any(Number),
    },
  };

  /** The page saw what `expected` says; its unanswered request ended at the limit, not long after. */
  async function expectWorking(path: string) {
    const result = await resultOf(path);
    expect(result).toEqual(expected);
    expect(result.unanswered.ms).toBeGreaterThanOrEqual(380);
    expect(result.unanswered.ms).toBeLessThan(5_000);
  }

  it('ships compiled ESM, .d.ts and the bundle, no sources', () => {
    const files = readdirSync(join(app, 'node_modules', '@lanyard', 'sdk', 'dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'app-config.js', 'app-config.d.ts', 'lanyard-sdk.js']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', '@lanyard', 'sdk', 'package.json'), 'utf8'));
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.exports['.'].default).toBe('./dist/index.js');
  });

  it('works in a page Vite built from `import … from "@lanyard/sdk"`', async () => {
    const built = readdirSync(join(app, 'vite-dist', 'assets')).filter((f) => f.endsWith('.js'));
    expect(built).toHaveLength(1);
    await expectWorking('/vite-dist/index.html');
  });

  it('works in a plain <script type="module"> page through an import map to dist/index.js', async () => {
    await expectWorking('/plain.html');
  });

  it('works in a plain <script type="module"> page from the one-file bundle', async () => {
    await expectWorking('/bundle.html');
  });

  it('its types check in a TypeScript project that imports the package', { timeout: 180_000 }, () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { LanyardClient, type Session } from '@lanyard/sdk';\nimport { validateAppConfig } from '@lanyard/sdk/app-config';\nconst s: Session | null = LanyardClient.fromAppConfig({}).getSession();\nconst ok: boolean = validateAppConfig({}, { pageUrl: 'https://desktop.example.com/' }).ok;\nexport { s, ok };\n`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const run = (resolution: string) =>
      execFileSync(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--module',
          resolution === 'nodenext' ? 'nodenext' : 'esnext',
          '--moduleResolution',
          resolution,
          '--lib',
          'es2022,dom',
          'check.ts',
        ],
        {
          cwd: app,
          encoding: 'utf8',
        },
      );
    expect(run('bundler')).toBe('');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    expect(run('nodenext')).toBe('');
  });
});
