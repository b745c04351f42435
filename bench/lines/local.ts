import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { createDesktopTokenVerifier } from '../../packages/sdk/src/token-verifier.ts';
import type { Child } from '../lib/child.ts';
import type { Line } from '../lib/report.ts';
import { alternate, ratioOf, sideSummary } from '../lib/rounds.ts';
import { startLanyardUnderTest, type Settings } from '../lib/setup.ts';
import { accessTokenFrom } from './server.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function opsPerSecond(seconds: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await op();
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await op();
    count++;
  }
  return (count * 1000) / (performance.now() - started);
}

/** Minified + gzipped size of everything a package exports, bundled for the browser. */
async function bundledSize(entry: string): Promise<number> {
  const result = await build({
    stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function localLines(idp: Child, settings: Settings): Promise<Line[]> {
  const lines: Line[] = [];
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'local' });
  try {
    const token = await accessTokenFrom(lanyard);
    const { iss, aud } = decodeJwt(token);
    const jwksUrl = new URL('/.well-known/jwks.json', lanyard.child.url);
    const jwks = createRemoteJWKSet(jwksUrl);
    // The token's own key (the set also holds the RS256 key, and older keys after a rotation).
    const { kid } = decodeProtectedHeader(token);
    const jwk = ((await (await fetch(jwksUrl)).json()) as { keys: JWK[] }).keys.find((k) => k.kid === kid);
    const key = await importJWK(jwk!, 'ES256');
    const verifier = createDesktopTokenVerifier({ issuer: iss!, accountSid: aud as string });
    // 2 s a side: at 1 s, two rounds of the same code differed by up to 15 % on a noisy 2-core machine.
    const seconds = settings.quick ? 0.5 : 2;
    const side = (op: () => Promise<unknown>) => async () => ({ value: await opsPerSecond(seconds, op) });
    const raw = side(() => jwtVerify(token, key));
    // Lanyard's verifier for backends, then any OIDC library's way (jose's remote key set), each
    // alternating with the raw verify of the same token.
    const [ours] = await alternate(
      side(() => verifier(token)),
      [raw],
      { rounds: settings.rounds },
    );
    const [generic] = await alternate(
      side(() => jwtVerify(token, jwks, { issuer: iss, audience: aud as string, algorithms: ['ES256'], typ: 'at+jwt' })),
      [raw],
      { rounds: settings.rounds },
    );
    const perSecond = (v: number) => `${Math.round(v).toLocaleString('en')} verifies/s`;
    lines.push({
      section: '',
      name: 'Local token validation with @lanyard/sdk/token-verifier vs raw jose verify',
      lanyard: sideSummary(ours!.a, perSecond),
      baseline: `jose jwtVerify with the key in hand: ${sideSummary(ours!.b, perSecond)}`,
      ...ratioOf(ours!),
      better: 'higher',
      note: `createDesktopTokenVerifier (JWKS fetched once; issuer, audience, alg, typ, surface checks), in-process; ${seconds} s a side and round`,
    });
    lines.push({
      section: '',
      name: "Local token validation with jose's remote JWKS (any OIDC library) vs raw jose verify",
      lanyard: sideSummary(generic!.a, perSecond),
      baseline: `jose jwtVerify with the key in hand: ${sideSummary(generic!.b, perSecond)}`,
      ...ratioOf(generic!),
      better: 'higher',
      note: `createRemoteJWKSet (cached) + issuer/audience/alg/typ checks: jose's key selection on every call; for information, ${seconds} s a side and round`,
    });
  } finally {
    await lanyard.stop();
  }

  let sdkEntry: string | undefined;
  let sdkNote = 'packages/sdk dist/lanyard-sdk.js (npm run build -w @lanyard/sdk)';
  try {
    execFileSync('npm', ['run', 'build', '-w', '@lanyard/sdk'], { cwd: root, stdio: 'ignore', timeout: 120_000 });
  } catch {
    sdkNote = 'SDK build script failed or missing; bundled packages/sdk/src/index.ts instead';
  }
  if (existsSync(`${root}packages/sdk/dist/lanyard-sdk.js`)) sdkEntry = './packages/sdk/dist/lanyard-sdk.js';
  else if (existsSync(`${root}packages/sdk/src/index.ts`)) {
    sdkEntry = './packages/sdk/src/index.ts';
    sdkNote = 'dist not built; bundled packages/sdk/src/index.ts';
  }
  let sdk: number | undefined;
  try {
    sdk = sdkEntry ? await bundledSize(sdkEntry) : undefined;
  } catch (error) {
    sdkNote = `SDK does not bundle yet: ${(error as Error).message.split('\n')[0]}`;
  }
  for (const [name, pkg] of [
    ['oidc-client-ts', 'oidc-client-ts'],
    ['auth0-spa-js', '@auth0/auth0-spa-js'],
  ] as const) {
    const size = await bundledSize(pkg);
    lines.push({
      section: '',
      name: `SDK size (min+gzip) vs ${name}`,
      lanyard: sdk === undefined ? 'pending' : kb(sdk),
      baseline: `${pkg}: ${kb(size)}`,
      ratio: sdk === undefined ? null : sdk / size,
      better: 'lower',
      note: `esbuild bundle of all exports, minified, gzip -9; ${sdkNote}`,
    });
  }
  return lines;
}
