import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { loadConfig, startLanyard, type Lanyard } from '../../packages/server/src/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { startTestLanyard } from '../support/lanyard.ts';
import { setupAccount } from '../support/flows.ts';
import { ACS_FLOWS, beginSignIn, genuineResponse, type AcsContext, type AcsFlow } from './support/acs.ts';

/**
 * Bodies the ACS endpoints cannot read (issue 13, item 7): every failure is a 4xx in the SPEC's
 * shape (an HTML page for a browser, JSON for an API client), nothing reaches the log as an
 * unhandled error, and a body refused for its size ends its keep-alive connection cleanly so the
 * client's next request works. Driven with Node's own keep-alive HTTP agent and with fetch (undici).
 */

let lanyard: Lanyard;
let db: TestDatabase;
let idp: DevIdp;
let ctx: AcsContext;
const logLines: string[] = [];

beforeAll(async () => {
  idp = await startDevIdp({ port: 0 });
  db = await createTestDatabase('sqlite');
  const config = loadConfig({ LANYARD_PORT: '0', LANYARD_DATABASE_URL: db.url }, { secretKey: randomBytes(32), rateLimitLoginPerMinute: 10_000 });
  lanyard = await startLanyard(config, { logger: jsonLogger('info', (line) => logLines.push(line)) });
  const setup = await setupAccount({ ...lanyard, db, backend: 'sqlite', stop: async () => undefined }, idp);
  await lanyard.services.accounts.setMode(setup.account.sid, 'both');
  ctx = {
    lanyard: { ...lanyard, db, backend: 'sqlite', stop: async () => undefined },
    accountSid: setup.account.sid,
    connectionSid: setup.connection.sid,
  };
});
afterAll(async () => {
  await lanyard?.close();
  await db?.drop();
  await idp?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The local port of the socket it came on: the same port twice means the connection was reused. */
  localPort: number;
}

function send(agent: Agent, url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', agent, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          localPort: req.socket?.localPort ?? 0,
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const unhandled = () => logLines.filter((l) => /unhandled error|"stack"|at .*\.ts:\d+/.test(l));

describe.each(ACS_FLOWS)('request bodies at the %s ACS', (flow: AcsFlow) => {
  const malformed: Array<[string, string, string]> = [
    [
      'a multipart body with no closing boundary',
      'multipart/form-data; boundary=XYZ',
      '--XYZ\r\nContent-Disposition: form-data; name="SAMLResponse"\r\n\r\nabc',
    ],
    ['multipart without a boundary parameter', 'multipart/form-data', 'SAMLResponse=abc'],
    ['multipart whose part has no headers', 'multipart/form-data; boundary=XYZ', '--XYZ\r\n\r\n\r\n--XYZ--'],
    ['a JSON body', 'application/json', '{"SAMLResponse":"abc"}'],
  ];

  it.each(malformed)('answers %s with a 400 page for a browser and JSON for an API client, logging no stack', async (_name, type, body) => {
    const pending = await beginSignIn(ctx, flow);
    const before = unhandled().length;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const page = await send(agent, pending.acsUrl, { method: 'POST', headers: { 'content-type': type, accept: BROWSER }, body });
      expect(page.status).toBe(400);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toMatch(/form|SAML response/);
      expect(page.body).not.toMatch(/at .*\.(ts|js):\d+/);
      const api = await send(agent, pending.acsUrl, { method: 'POST', headers: { 'content-type': type, accept: 'application/json' }, body });
      expect(api.status).toBe(400);
      expect(JSON.parse(api.body)).toMatchObject({ code: 20001, status: 400, message: expect.any(String) });
    } finally {
      agent.destroy();
    }
    expect(unhandled().slice(before)).toEqual([]);
  });

  it('reads a genuine response posted as multipart/form-data, and refuses a form that sends SAMLResponse twice', async () => {
    const pending = await beginSignIn(ctx, flow);
    const genuine = await genuineResponse(idp, pending, 'alan@example.com');
    const twice = new URLSearchParams([
      ['SAMLResponse', genuine],
      ['SAMLResponse', genuine],
      ['RelayState', pending.relayState],
    ]);
    const refused = await fetch(pending.acsUrl, { method: 'POST', headers: { accept: 'application/json' }, body: twice, redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 20001, message: 'SAMLResponse must be sent once in the form.' });
    const form = new FormData();
    form.set('SAMLResponse', genuine);
    form.set('RelayState', pending.relayState);
    const accepted = await fetch(pending.acsUrl, { method: 'POST', body: form, redirect: 'manual' });
    expect(accepted.status).toBe(303);
  });

  it('answers an oversized body with 413 as a page, closes that connection, and the keep-alive client carries on', async () => {
    const pending = await beginSignIn(ctx, flow);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const warm = await send(agent, `${lanyard.url}/healthz`, {});
      expect(warm.status).toBe(200);
      const big = `SAMLResponse=${'A'.repeat(1_200_000)}&RelayState=${pending.relayState}`;
      const refused = await send(agent, pending.acsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: BROWSER },
        body: big,
      });
      expect(refused.status).toBe(413);
      expect(refused.headers['content-type']).toMatch(/text\/html/);
      expect(refused.headers.connection).toBe('close');
      // The next request on the same client works, and the pending sign-in can still complete.
      const genuine = await genuineResponse(idp, pending, 'alan@example.com');
      const next = await send(agent, pending.acsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: genuine, RelayState: pending.relayState }).toString(),
      });
      expect(next.status).toBe(303);
    } finally {
      agent.destroy();
    }
  });

  it('answers an oversized body sent without Content-Length (chunked) the same way', async () => {
    const pending = await beginSignIn(ctx, flow);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await new Promise<Answer>((resolve, reject) => {
        const req = request(
          pending.acsUrl,
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked', accept: 'application/json' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), localPort: 0 }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 12; i++) req.write('A'.repeat(100_000));
        req.end();
      });
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 20413, status: 413 });
      expect(refused.headers.connection).toBe('close');
      expect((await send(agent, `${lanyard.url}/healthz`, {})).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('fetch (undici, keep-alive by default) gets the 413 and its next request succeeds', async () => {
    const pending = await beginSignIn(ctx, flow);
    const refused = await fetch(pending.acsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `SAMLResponse=${'A'.repeat(1_200_000)}`,
    });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ code: 20413 });
    expect((await fetch(`${lanyard.url}/healthz`)).status).toBe(200);
  });
});

/**
 * The JSON and form endpoints read their bodies straight from Node's request (http/request-body.ts),
 * not through a WHATWG Request: the limit, the decoding and a client that stops half-way must
 * behave as they did through the framework.
 */
describe('request bodies at the JSON and form endpoints', () => {
  const tokenUrl = () => `${lanyard.url}/v1/Flex/OAuth/Tokens`;

  it('answers an oversized chunked JSON body with 413, closes that connection, and the client carries on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await new Promise<Answer>((resolve, reject) => {
        const req = request(
          tokenUrl(),
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), localPort: 0 }));
          },
        );
        req.on('error', reject);
        req.write('{"grant_type":"RefreshToken","refresh_token":"');
        for (let i = 0; i < 12; i++) req.write('A'.repeat(100_000));
        req.end('"}');
      });
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body)).toMatchObject({
        code: 20413,
        status: 413,
        message: 'The request body is too large: at most 1024 KiB is accepted.',
      });
      expect(refused.headers.connection).toBe('close');
      expect((await send(agent, `${lanyard.url}/healthz`, {})).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('refuses a declared Content-Length over the limit before reading it', async () => {
    const refused = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(1024 * 1024 + 1) });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ code: 20413 });
  });

  it('decodes UTF-8 and drops a leading byte-order mark, as the Fetch API does', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify({ grant_type: 'RefreshToken', refresh_token: 'lrt_ünknown' })),
    ]);
    const answer = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    // Parsed: the refusal is about the token, not the JSON.
    expect(answer.status).toBe(400);
    expect(await answer.json()).not.toMatchObject({ message: 'The request body must be valid JSON.' });
  });

  it('survives a client that stops sending half-way: nothing unhandled, and the next requests are answered', async () => {
    const before = unhandled().length;
    await new Promise<void>((resolve) => {
      const req = request(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('{"grant_type":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    const next = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(next.status).toBe(400);
    expect(await next.json()).toMatchObject({ message: 'The request body must be valid JSON.' });
    expect(unhandled().slice(before)).toEqual([]);
  });

  it('holds a chunked body of one-byte chunks in one buffer, not a million (memory stays near the 1 MiB limit)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const port = Number(new URL(lanyard.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    try {
      gc();
      const before = process.memoryUsage().heapUsed;
      socket.write('POST /v1/Flex/OAuth/Tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      // 1,000,000 body bytes (under the limit), each its own chunk: 6 MB on the wire.
      const piece = Buffer.from('1\r\nA\r\n'.repeat(10_000));
      for (let i = 0; i < 100; i++) if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      gc();
      // While the body is still open, the server holds what it has read.
      const held = process.memoryUsage().heapUsed - before;
      socket.write('0\r\n\r\n');
      for (let waited = 0; answer === '' && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(held).toBeLessThan(50 * 1024 * 1024);
    } finally {
      socket.destroy();
    }
  });
});

/**
 * A client that goes away while the handler awaits something before reading the body (here the
 * token endpoint's CORS check, a PostgreSQL query for the registered clients' origins): its
 * request is destroyed before the reader starts, and the reader must not wait for events that
 * already happened. A request that never finishes holds the in-flight count, so a graceful
 * shutdown waits out its whole timeout.
 */
describe('a client that leaves before its body is read', () => {
  it('ends the request (nothing left in flight) when the client is gone before the handler reads', async () => {
    const pgLanyard = await startTestLanyard('postgres');
    try {
      const port = Number(new URL(pgLanyard.url).port);
      for (let i = 0; i < 5; i++) {
        const socket = connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.on('error', () => undefined);
        // A fresh origin cache: the CORS check queries PostgreSQL before the handler reads the body.
        (pgLanyard.services.clients as unknown as { originCache?: unknown }).originCache = undefined;
        socket.write(
          'POST /oauth2/token HTTP/1.1\r\nHost: x\r\nOrigin: https://elsewhere.example\r\n' +
            'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=',
        );
        socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const deadline = Date.now() + 3000;
      while (pgLanyard.services.lifecycle.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(pgLanyard.services.lifecycle.inFlight).toBe(0);
    } finally {
      await pgLanyard.stop();
    }
  });
});
