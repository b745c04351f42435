import { serve, type ServerType } from '@hono/node-server';
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoAccount } from './demo-account.ts';

const DESKTOP_DIR = fileURLToPath(new URL('../desktop/', import.meta.url));
const SDK_ENTRY = fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface DesktopServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  lanyardUrl: string;
  /** The account the generated appConfig.js points at (a function: it may be set up after the server starts). */
  demo: DemoAccount | (() => DemoAccount);
  /** A Cross-Origin-Opener-Policy for the desktop's pages, e.g. `same-origin` (none by default). */
  crossOriginOpenerPolicy?: string;
}

/**
 * The demo agent desktop, on its own origin like a real self-hosted desktop: static files, the
 * SDK bundle, and `assets/appConfig.js` written from the demo account.
 */
export async function startDesktopServer(options: DesktopServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const sdk = await bundleSdk();
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ hostname: options.host, port: options.port, fetch: (request) => handle(request) }, () => resolve(s));
  });
  const origin = `http://${options.host}:${(server.address() as AddressInfo).port}`;
  const demo = () => (typeof options.demo === 'function' ? options.demo() : options.demo);
  const csp = contentSecurityPolicy(options.lanyardUrl);

  async function handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/sdk/lanyard-sdk.js') return respond(sdk, '.js');
    if (path === '/assets/appConfig.js') return respond(appConfigScript(enhancedAppConfig({ ...options, demo: demo() }, origin)), '.js');
    if (path === '/legacy/assets/appConfig.js') return respond(appConfigScript(legacyAppConfig({ ...options, demo: demo() }, origin)), '.js');
    const file = path.endsWith('/') ? `${path}index.html` : path;
    const relative = normalize(file.replace(/^\/legacy\//, '/')).replace(/^(\.\.[/\\])+/, '');
    try {
      const response = respond(await readFile(join(DESKTOP_DIR, relative), 'utf8'), extname(relative), csp);
      if (options.crossOriginOpenerPolicy) response.headers.set('cross-origin-opener-policy', options.crossOriginOpenerPolicy);
      return response;
    } catch {
      return new Response('Not found', { status: 404 });
    }
  }

  return {
    url: origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function respond(body: string, extension: string, csp?: string): Response {
  return new Response(body, {
    headers: {
      'content-type': TYPES[extension] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      // Tokens may arrive on the URL (legacy SSO): never let them leak through Referer.
      'referrer-policy': 'no-referrer',
      ...(csp && extension === '.html' ? { 'content-security-policy': csp } : {}),
    },
  });
}

/** Tokens sit in this page's storage: only its own scripts run, and it talks to Lanyard only. */
function contentSecurityPolicy(lanyardUrl: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${new URL(lanyardUrl).origin}`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function bundleSdk(): Promise<string> {
  const result = await build({
    entryPoints: [SDK_ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    write: false,
    minify: false,
    sourcemap: 'inline',
  });
  return result.outputFiles[0]!.text;
}

type ConfigOptions = Pick<DesktopServerOptions, 'lanyardUrl'> & { demo: DemoAccount };

export function enhancedAppConfig(options: ConfigOptions, origin: string) {
  return {
    serviceBaseUrl: options.lanyardUrl,
    sso: { accountSid: options.demo.account.sid, loginPopup: false },
    oauth: {
      connection: options.demo.connection.sid,
      clientId: options.demo.connection.clientId,
      redirectUrl: `${origin}/`,
      authorizeUrl: `${options.lanyardUrl}/v1/Flex/Authorize`,
      tokenUrl: `${options.lanyardUrl}/v1/Flex/OAuth/Tokens`,
    },
  };
}

export function legacyAppConfig(options: ConfigOptions, origin: string) {
  const sid = options.demo.account.sid;
  return {
    serviceBaseUrl: options.lanyardUrl,
    sso: {
      accountSid: sid,
      loginPopup: false,
      redirectUrl: `${origin}/legacy/`,
      loginUrl: `${options.lanyardUrl}/v1/Accounts/${sid}/authenticate`,
      tokenRefreshUrl: `${options.lanyardUrl}/v1/Accounts/${sid}/Tokens/refresh`,
    },
  };
}

function appConfigScript(config: unknown): string {
  return `// Generated by the Lanyard demo for this account. A self-hosted desktop takes it from the console's appConfig snippet (or GET /admin/v1/accounts/{AC}/app-config).\nwindow.appConfig = ${JSON.stringify(config, null, 2)};\n`;
}
