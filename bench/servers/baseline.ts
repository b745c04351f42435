/**
 * The ceilings and raw costs, on the same framework as Lanyard (Hono on @hono/node-server):
 * - `GET /hello`: a bare hello-world JSON answer (the framework's ceiling);
 * - `POST /hello`: reads a JSON body and answers (the ceiling for a JSON POST endpoint);
 * - `GET /lookup-answer`: a hello-world that sends the lookup's own answer: a body of the same
 *   shape and size and the same response headers (security headers, request id, cache), no work;
 * - `POST /refresh` (when BENCH_DATABASE_URL is set): the least a rotating refresh grant must
 *   do — one transaction that spends the presented token (UPDATE … WHERE unspent) and stores
 *   its successor (INSERT), plus one ES256 signature of an access token of the same shape.
 *
 * The POST handlers read their JSON body the framework's way (`c.req.json()`, which makes
 * @hono/node-server build a WHATWG Request and stream), or with BENCH_BODY_READER=node straight
 * from Node's IncomingMessage, as Lanyard does since its fifth round (http/request-body.ts).
 * With BENCH_RAW_CHECKPOINTS=worker a SQLite raw store checkpoints its WAL on a worker thread,
 * as Lanyard does since its sixth round (storage/wal-checkpointer.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { openRawStore, type RawStore } from '../lib/raw-store.ts';
import { exitWithParent } from '../lib/parent-link.ts';

// Registered before any start-up work: a bench that dies meanwhile leaves nothing running.
exitWithParent();

const nodeReader = process.env.BENCH_BODY_READER === 'node';
const app = new Hono<{ Bindings: HttpBindings }>();

/** The request's JSON body, read as BENCH_BODY_READER says. */
async function readJson<T>(c: Context<{ Bindings: HttpBindings }>): Promise<T> {
  if (!nodeReader) return c.req.json<T>();
  const incoming = c.env.incoming;
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    incoming.on('error', reject);
  });
  return JSON.parse(text) as T;
}

app.get('/hello', (c) => c.json({ hello: 'world' }));

const sid = (prefix: string) => prefix + '0'.repeat(32);
const lookupAnswer = {
  config_list: [
    {
      account_sid: sid('AC'),
      instance_sid: sid('GO'),
      connection_name: sid('JQ'),
      client_id: 'x'.repeat(32),
      active: true,
      app_type: 'SinglePageApp',
    },
  ],
};
app.get('/lookup-answer', (c) => {
  c.header('X-Request-Id', randomUUID().replace(/-/g, '').slice(0, 16));
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'");
  c.header('X-Frame-Options', 'DENY');
  c.header('Cache-Control', 'public, max-age=60');
  return c.json(lookupAnswer);
});
app.post('/hello', async (c) => c.json({ hello: (await readJson<unknown>(c)) !== null }));

const databaseUrl = process.env.BENCH_DATABASE_URL;
const store: RawStore | undefined = databaseUrl
  ? await openRawStore(databaseUrl, { checkpointsOnWorker: process.env.BENCH_RAW_CHECKPOINTS === 'worker' })
  : undefined;
const { privateKey, publicKey } = await generateKeyPair('ES256');
const kid = createHash('sha256')
  .update(JSON.stringify(await exportJWK(publicKey)))
  .digest('base64url')
  .slice(0, 16);
const hash = (value: string) => createHash('sha256').update(value).digest('base64url');

if (store) {
  app.post('/refresh', async (c) => {
    const body = await readJson<{ refresh_token?: string }>(c);
    const successor = 'lrt_' + randomBytes(32).toString('base64url');
    const ok = await store.rotate(hash(body.refresh_token ?? ''), hash(successor));
    if (!ok) return c.json({ code: 20003, message: 'invalid refresh token', status: 400 }, 400);
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({
      grants: { identity: 'agent0_40bench_2Eexample', roles: ['agent'] },
      identity: 'agent0_40bench_2Eexample',
      roles: ['agent'],
      worker_sid: 'WK' + '0'.repeat(32),
      flex_instance_sid: 'GO' + '0'.repeat(32),
      name_id: 'agent0@bench.example',
      sid: 'ses_' + randomBytes(32).toString('base64url'),
    })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer('http://127.0.0.1')
      .setAudience('AC' + '0'.repeat(32))
      .setSubject('FU' + '0'.repeat(32))
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    return c.json({ access_token: accessToken, refresh_token: successor });
  });
}

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.send!({ type: 'ready', url: `http://127.0.0.1:${info.port}` });
});

process.on('message', (message: { id: number; cmd: string; count?: number }) => {
  void (async () => {
    if (message.cmd === 'sessions') {
      const tokens = Array.from({ length: message.count ?? 0 }, () => 'lrt_' + randomBytes(32).toString('base64url'));
      await store!.seed(tokens.map(hash));
      process.send!({ id: message.id, result: tokens });
    } else if (message.cmd === 'stop') {
      server.close();
      await store?.close();
      process.send!({ id: message.id, result: null });
      setImmediate(() => process.exit(0));
    }
  })().catch((error: Error) => process.send!({ id: message.id, error: error.message }));
});
