import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { withDirectRoutes } from '../../packages/server/src/http/direct-routes.ts';
import { createLanyard, directRoutesOf, loadConfig } from '../../packages/server/src/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { setupAccount } from '../support/flows.ts';
import type { TestLanyard } from '../support/lanyard.ts';

/**
 * The public lookup answered from its cache before the app (flex/lookup-direct.ts) must be the
 * app's own answer. Two real HTTP servers share one Lanyard's services: `appOnly` is the Hono app
 * alone, `direct` puts the direct routes in front of it as startLanyard does. Each query goes to
 * `appOnly` first (which also fills the cache), then to `direct`; `passedToApp` counts what
 * `direct` handed to the app, so each case also shows which way it was answered.
 */
describe('the public lookup answered before the app', () => {
  let db: TestDatabase;
  let idp: DevIdp;
  let lanyard: Awaited<ReturnType<typeof createLanyard>>;
  let appOnly: Server;
  let direct: Server;
  let appOnlyUrl: string;
  let directUrl: string;
  let passedToApp = 0;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let legacy: Awaited<ReturnType<typeof setupAccount>>;

  const listen = (server: Server) =>
    new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: [{ id: 'ada@example.com', full_name: 'Ada', email: 'ada@example.com', roles: ['agent'] }] });
    db = await createTestDatabase('sqlite');
    let toApp: RequestListener = () => undefined;
    appOnly = createServer((incoming, outgoing) => toApp(incoming, outgoing));
    appOnlyUrl = await listen(appOnly);
    const config = loadConfig(
      { LANYARD_PORT: '0', LANYARD_PUBLIC_URL: 'https://sso.example.com', LANYARD_DATABASE_URL: db.url },
      { secretKey: randomBytes(32) },
    );
    lanyard = await createLanyard(config, { logger: jsonLogger('silent') });
    toApp = getRequestListener(lanyard.app.fetch);
    const counted: RequestListener = (incoming, outgoing) => {
      passedToApp++;
      toApp(incoming, outgoing);
    };
    direct = createServer(withDirectRoutes(directRoutesOf(lanyard.services, config), counted));
    directUrl = await listen(direct);
    setup = await setupAccount(lanyard as unknown as TestLanyard, idp);
    legacy = await setupAccount(lanyard as unknown as TestLanyard, idp);
    await lanyard.services.accounts.setMode(legacy.account.sid, 'legacy', { force: true });
  });
  afterAll(async () => {
    direct?.closeAllConnections();
    appOnly?.closeAllConnections();
    await new Promise((resolve) => direct?.close(resolve));
    await new Promise((resolve) => appOnly?.close(resolve));
    await lanyard?.close();
    await db?.drop();
    await idp?.close();
  });

  /** Status, body and every header but the date (and the request id, which is random unless the client sent one). */
  async function answer(base: string, query: string, headers: Record<string, string> = {}, method = 'GET') {
    const response = await fetch(`${base}/v1/Flex/Authentication/Config${query}`, { method, headers });
    const all = Object.fromEntries([...response.headers].filter(([name]) => name !== 'date'));
    if (!headers['x-request-id']) {
      expect(all['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
      delete all['x-request-id'];
    }
    return { status: response.status, headers: all, body: await response.text() };
  }

  const SID = 'AC' + '0'.repeat(32);

  it('sends the app’s status, headers and body for every query it answers, and answers them all itself', async () => {
    const { account, connection } = setup;
    const queries = [
      `?AccountSid=${account.sid}`,
      // flex-sdk 3.0.0's own query: every parameter, empty when unknown.
      `?AccountSid=${account.sid}&FlexInstanceSid=&RuntimeDomain=&SSOProfileSid=&AppType=SinglePageApp`,
      `?AccountSid=${account.sid}&FlexInstanceSid=${account.instanceSid}&SSOProfileSid=${connection.sid}`,
      `?AccountSid=${account.sid}&FlexInstanceSid=GO${'1'.repeat(32)}`,
      `?SSOProfileSid=JQ${'2'.repeat(32)}&AccountSid=${account.sid}`,
      `?AccountSid=${account.sid}&AppType=Native`,
      `?AccountSid=+${account.sid}+`,
      `?AccountSid=${account.sid}&AccountSid=${SID}`,
      `?AccountSid=${SID}&AccountSid=${account.sid}`,
      `?Account%53id=${account.sid}`,
      `?AccountSid=${legacy.account.sid}`,
      `?AccountSid=${SID}`,
      '?RuntimeDomain=example',
    ];
    const headerSets: Array<Record<string, string>> = [{}, { origin: 'https://desk.example.com' }, { 'x-request-id': 'client-chosen-id' }];
    for (const query of queries) {
      for (const headers of headerSets) {
        const fromApp = await answer(appOnlyUrl, query, headers);
        const before = passedToApp;
        const fromDirect = await answer(directUrl, query, headers);
        expect({ query, headers, passedToApp: passedToApp - before }).toEqual({ query, headers, passedToApp: 0 });
        expect({ query, ...fromDirect }).toEqual({ query, ...fromApp });
        expect(fromDirect.status).toBe(200);
      }
    }
    // The cases above cover the lookup's answers, not just empty ones.
    const full = JSON.parse((await answer(directUrl, `?AccountSid=${account.sid}`)).body);
    expect(full.config_list).toEqual([expect.objectContaining({ account_sid: account.sid, connection_name: connection.sid })]);
    // https public URL: HSTS, as on every answer of the app.
    expect((await answer(directUrl, `?AccountSid=${account.sid}`)).headers['strict-transport-security']).toMatch(/^max-age=/);
  });

  it('gives the app’s answer to query strings the app reads its own way (a leading "?", a "#")', async () => {
    const { account } = setup;
    const other = `AC${'9'.repeat(32)}`;
    await answer(appOnlyUrl, `?AccountSid=${other}`);
    const queries = [
      `??AccountSid=${account.sid}`,
      `??AccountSid=${other}&AccountSid=${account.sid}`,
      '??RuntimeDomain=example',
      `?AccountSid=${account.sid}&#&AppType=Native`,
      `?#&AccountSid=${account.sid}`,
      `?AccountSid=${account.sid}#`,
    ];
    for (const query of queries) {
      for (let i = 0; i < 2; i++) {
        const fromApp = await answer(appOnlyUrl, query);
        const fromDirect = await answer(directUrl, query);
        expect({ query, ...fromDirect }).toEqual({ query, ...fromApp });
      }
    }
  });

  it('leaves a request with a Host the app refuses to the app', async () => {
    const query = `?AccountSid=${setup.account.sid}`;
    await answer(directUrl, query);
    const { port } = new URL(directUrl);
    for (const host of ['u@x', 'x:99999', '1.2.3', 'x?y']) {
      const before = passedToApp;
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: `/v1/Flex/Authentication/Config${query}`, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect({ host, status, passedToApp: passedToApp - before }).toEqual({ host, status: 400, passedToApp: 1 });
    }
    // No Host (HTTP/1.0): the adapter builds the URL from the listening address; left to it.
    const rawGet = (base: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(base).port), '127.0.0.1', () =>
          socket.end(`GET /v1/Flex/Authentication/Config${query} HTTP/1.0\r\n\r\n`),
        );
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('end', () => resolve(text.split('\r\n')[0]!));
        socket.on('error', reject);
      });
    const before = passedToApp;
    expect(await rawGet(directUrl)).toBe(await rawGet(appOnlyUrl));
    expect(passedToApp - before).toBe(1);
  });

  it('leaves errors, other methods and uncached accounts to the app', async () => {
    const cases: Array<[string, string, number]> = [
      ['GET', '?AccountSid=AC123', 400],
      ['GET', '', 400],
      ['GET', `?AccountSid=${setup.account.sid}&FlexInstanceSid=nope`, 400],
      ['HEAD', `?AccountSid=${setup.account.sid}`, 200],
      ['OPTIONS', `?AccountSid=${setup.account.sid}`, 204],
      // Not looked up before: the app reads it (and caches it).
      ['GET', `?AccountSid=AC${'8'.repeat(32)}`, 200],
    ];
    for (const [method, query, status] of cases) {
      const before = passedToApp;
      const headers: Record<string, string> =
        method === 'OPTIONS' ? { origin: 'https://desk.example.com', 'access-control-request-method': 'GET' } : {};
      const response = await fetch(`${directUrl}/v1/Flex/Authentication/Config${query}`, { method, headers });
      expect({ method, query, status: response.status, passedToApp: passedToApp - before }).toEqual({ method, query, status, passedToApp: 1 });
    }
    // Now cached: answered directly.
    const before = passedToApp;
    expect((await fetch(`${directUrl}/v1/Flex/Authentication/Config?AccountSid=AC${'8'.repeat(32)}`)).status).toBe(200);
    expect(passedToApp - before).toBe(0);
  });

  it('sends what changed once the account changes, and counts its answers in the request metric', async () => {
    const other = await setupAccount(lanyard as unknown as TestLanyard, idp);
    const query = `?AccountSid=${other.account.sid}`;
    expect(JSON.parse((await answer(directUrl, query)).body).config_list).toHaveLength(1);
    expect(JSON.parse((await answer(directUrl, query)).body).config_list).toHaveLength(1);
    const count = async () => {
      const text = await lanyard.services.metrics.render();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('lanyard_http_request_duration_seconds_count{route="/v1/Flex/Authentication/Config",method="GET",status="2xx"}'));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    const counted = await count();
    await lanyard.services.accounts.setMode(other.account.sid, 'legacy', { force: true });
    const before = passedToApp;
    expect(JSON.parse((await answer(directUrl, query)).body)).toEqual({ config_list: [] });
    // The write cleared the cache: the app read the account again, then the next is direct.
    expect(passedToApp - before).toBe(1);
    expect(JSON.parse((await answer(directUrl, query)).body)).toEqual({ config_list: [] });
    expect(passedToApp - before).toBe(1);
    expect(await count()).toBe(counted + 2);
  });

  it('leaves a draining node’s answers to the app, which tells clients to reconnect', async () => {
    const query = `?AccountSid=${setup.account.sid}`;
    await answer(directUrl, query);
    lanyard.services.lifecycle.startDraining();
    const before = passedToApp;
    const response = await fetch(`${directUrl}/v1/Flex/Authentication/Config${query}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    expect(passedToApp - before).toBe(1);
  });
});
