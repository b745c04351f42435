import type { Context } from 'hono';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';

/**
 * The built console, found from the @lanyard/server package's root (resolved by name, so the same
 * from src/, dist/ and the `lanyard` command's bundle in another package): in the repository,
 * packages/console/dist/ where `npm run build -w @lanyard/console` writes it; in the published
 * package, the copy `npm pack` puts in console-dist/ (scripts/copy-console.mjs).
 */
const serverPackageRoot = dirname(createRequire(import.meta.url).resolve('@lanyard/server/package.json'));
export const CONSOLE_DIST =
  [join(serverPackageRoot, '..', 'console', 'dist'), join(serverPackageRoot, 'console-dist')].find((dir) => existsSync(dir)) ??
  join(serverPackageRoot, '..', 'console', 'dist');

/**
 * Console pages run only our own bundled script and stylesheet: no inline code, no other origin,
 * no framing, and Trusted Types forbid every HTML-string sink, so injected markup cannot run.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};
const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

const notBuilt = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><main><h1>The admin console has not been built</h1><p>Run <code>npm run build -w @lanyard/console</code> and reload
(<code>npm start</code> and <code>npm test</code> build it for you).</p></main></body></html>`;

/** Serves the built console under `/console/`: the page itself never cached, hashed assets forever. */
export async function serveConsoleFile(c: Context, relative: string, dist = CONSOLE_DIST): Promise<Response> {
  const file = relative === '' ? 'index.html' : relative;
  const type = TYPES[extname(file)];
  const path = resolve(join(dist, file));
  if (!SAFE_PATH.test(file) || !type || !path.startsWith(resolve(dist) + sep)) return c.notFound();
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    if (file === 'index.html') return secure(c.html(notBuilt, 503));
    return c.notFound();
  }
  const cache = file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-store';
  return secure(c.body(new Uint8Array(body), 200, { 'Content-Type': type, 'Cache-Control': cache }));
}

function secure(response: Response): Response {
  response.headers.set('Content-Security-Policy', CONSOLE_CSP);
  // The test sign-in window goes to the IdP: it must not keep a handle on the console.
  response.headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  return response;
}
