import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * A self-hosted desktop running the real, unmodified `@twilio/flex-ui` 2.17.1 bundle (SPEC
 * "Running the real client in a test"), with the routing service worker from `@lanyard/sdk`
 * installed the way docs/flex-ui.md tells users to. Pages:
 * - `/` and `/legacy/`: `routeFlexHostsToLanyard()`, then the Flex bundle, then
 *   `Flex.provideLoginInfo(appConfig, '#root')` and `Flex.Manager.create(appConfig)`;
 *   the outcome is put on `window.flexOutcome` and `body[data-flex]`.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CACHE = `${ROOT}node_modules/.cache/lanyard-flex-ui/`;
const version = (name: string) => (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;

/**
 * The Flex UI bundle with its externals (React 17, react-dom 17, axios, query-string and the rest
 * of its dependencies) for the browser. Built once per installed version (about a minute), cached.
 */
export async function flexUiBundle(): Promise<string> {
  const key = `flex-ui-${version('@twilio/flex-ui')}-react-${version('react')}.js`;
  if (existsSync(CACHE + key)) return readFileSync(CACHE + key, 'utf8');
  const result = await build({
    stdin: {
      contents: [
        "import React from 'react';",
        "import ReactDOM from 'react-dom';",
        // The bundle expects React on window, as a page that loads React from a CDN has it.
        'window.React = React; window.ReactDOM = ReactDOM;',
        "window.Twilio = window.Twilio || {}; window.Twilio.Flex = require('@twilio/flex-ui');",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    plugins: [
      {
        // mime-types asks Node's `path` for extname() only.
        name: 'path-extname',
        setup(b) {
          b.onResolve({ filter: /^path$/ }, () => ({ path: 'path', namespace: 'path-extname' }));
          b.onLoad({ filter: /.*/, namespace: 'path-extname' }, () => ({
            contents: 'export function extname(p) { const m = /\\.[^./]*$/.exec(p); return m ? m[0] : ""; }',
            loader: 'js',
          }));
        },
      },
    ],
  });
  const code = result.outputFiles[0]!.text;
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(CACHE + key + '.tmp', code);
  renameSync(CACHE + key + '.tmp', CACHE + key);
  return code;
}

/** The SDK's routing: the service worker script and the browser module that registers it. */
async function routingBundles(): Promise<{ worker: string; helper: string }> {
  const common = { bundle: true, write: false, target: 'es2020', logLevel: 'silent' } as const;
  const [worker, helper] = await Promise.all([
    build({ ...common, entryPoints: [`${ROOT}packages/sdk/src/flex-hosts-worker.ts`], format: 'iife' }),
    build({ ...common, entryPoints: [`${ROOT}packages/sdk/src/flex-hosts.ts`], format: 'esm' }),
  ]);
  return { worker: worker.outputFiles[0]!.text, helper: helper.outputFiles[0]!.text };
}

export interface FlexUiDesktop {
  url: string;
  /** Sets the appConfig the pages load (`/` and `/legacy/` share it; each test sets its own), and how the page starts Flex. */
  setAppConfig(config: Record<string, unknown>, start?: 'provideLoginInfo' | 'managerCreate'): void;
  close(): Promise<void>;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Flex UI on Lanyard</title></head>
<body><div id="root"></div>
<script src="/assets/appConfig.js"></script>
<script type="module">
  import { routeFlexHostsToLanyard } from '/sdk/flex-hosts.js';
  const report = (state, detail) => { window.flexOutcome = { state, detail }; document.body.dataset.flex = state; };
  try {
    await routeFlexHostsToLanyard({ lanyardUrl: window.lanyardUrl, workerUrl: '/lanyard-flex-hosts-worker.js' });
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/flex-ui.js';
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
    const Flex = window.Twilio.Flex;
    // A desktop may call Manager.create alone; most call provideLoginInfo first (SPEC).
    if (window.flexStart !== 'managerCreate') await Flex.provideLoginInfo(window.appConfig, '#root');
    const manager = await Flex.Manager.create(window.appConfig);
    window.flexManager = manager;
    report('created', { identity: manager.user.identity, roles: manager.user.roles, accountSid: manager.serviceConfiguration.account_sid });
  } catch (error) {
    report('failed', String(error && (error.message || error)));
  }
</script></body></html>`;

/** Serves the desktop on a free loopback port. */
export async function startFlexUiDesktop(lanyardUrl: string): Promise<FlexUiDesktop> {
  const [flex, routing] = await Promise.all([flexUiBundle(), routingBundles()]);
  let appConfig: Record<string, unknown> = {};
  let start = 'provideLoginInfo';
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://desktop').pathname;
    const send = (body: string, type: string, headers: Record<string, string> = {}) => {
      response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(body);
    };
    if (path === '/' || path === '/legacy/') return send(PAGE, 'text/html; charset=utf-8');
    if (path.endsWith('/assets/appConfig.js'))
      return send(
        `window.lanyardUrl = ${JSON.stringify(lanyardUrl)};\nwindow.flexStart = ${JSON.stringify(start)};\nwindow.appConfig = ${JSON.stringify(appConfig)};`,
        'text/javascript',
      );
    if (path === '/flex-ui.js') return send(flex, 'text/javascript');
    if (path === '/sdk/flex-hosts.js') return send(routing.helper, 'text/javascript');
    if (path === '/lanyard-flex-hosts-worker.js') return send(routing.worker, 'text/javascript');
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setAppConfig: (config, how = 'provideLoginInfo') => {
      appConfig = config;
      start = how;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
