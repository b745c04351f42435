import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { NetworkError } from '../../packages/sdk/src/errors.ts';
import { defaultFetch, postJson, REQUEST_TIMEOUT_MS, withTimeout } from '../../packages/sdk/src/lanyard-api.ts';
import { exchangeCode, flexLogin, refreshTokens, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A refresh whose answer is lost after Lanyard rotated the token (a proxy that forwards the
 * request and holds the answer): the SDK gives up at its default request limit and retries 1 s
 * later (refresh-coordinator.ts). That retry must land inside Lanyard's default grace window
 * (LANYARD_REFRESH_GRACE_SECONDS, 10 s) and get the same successor back. A limit of 30 s, or a
 * first retry 5 s later, landed outside it: the retry was refused as token reuse and the agent's
 * session revoked.
 */
describe('a refresh answer lost on the way back, with the SDK defaults and the server defaults', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let holding: Server;
  let holdingUrl: string;
  const held: Array<{ status: number; body: { refresh_token?: string } }> = [];

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    // Forwards each request to Lanyard, keeps its answer, and never sends it on.
    holding = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void fetch(`${lanyard.url}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
          .then(async (answer) => held.push({ status: answer.status, body: (await answer.json()) as { refresh_token?: string } }))
          .catch(() => undefined);
      });
      res.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => holding.listen(0, '127.0.0.1', resolve));
    holdingUrl = `http://127.0.0.1:${(holding.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    holding?.closeAllConnections();
    await new Promise((resolve) => holding?.close(resolve));
    await lanyard?.stop();
    await idp?.close();
  });

  it('the retry after the timeout gets the successor Lanyard already issued, and the session lives on', { timeout: 30_000 }, async () => {
    expect(REQUEST_TIMEOUT_MS + 1_000).toBeLessThan(lanyard.services.config.refreshGraceSeconds * 1000);
    const setup = await setupAccount(lanyard, idp);
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, idp.users[0]!.id));
    expect(tokens.status).toBe(200);
    const body = { grant_type: 'RefreshToken', refresh_token: tokens.body.refresh_token, sso_profile_sid: setup.connection.sid };

    const started = Date.now();
    const lost = await postJson(withTimeout(defaultFetch, REQUEST_TIMEOUT_MS), `${holdingUrl}/v1/Flex/OAuth/Tokens`, body).then(
      () => 'answered',
      (error: unknown) => error,
    );
    expect(lost).toBeInstanceOf(NetworkError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    // Lanyard did rotate: the answer it gave is the one the proxy kept.
    expect(held).toMatchObject([{ status: 200, body: { refresh_token: expect.any(String) } }]);

    await sleep(1_000); // the coordinator's first retry
    const retried = await refreshTokens(lanyard, setup.connection.sid, tokens.body.refresh_token as string);
    expect(retried.status, String(retried.body.message)).toBe(200);
    expect(retried.body.refresh_token).toBe(held[0]!.body.refresh_token);
    // And the session goes on: the successor refreshes as usual.
    const next = await refreshTokens(lanyard, setup.connection.sid, retried.body.refresh_token as string);
    expect(next.status, String(next.body.message)).toBe(200);
  });
});
