import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { loginHeadless, type AutoPostForm, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { pkcePair } from './pkce.ts';

export const DESKTOP_URL = 'http://127.0.0.1:5173/desktop/';

/** What the login steps read of an answer. */
export interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * Kept-alive connections shared by every login of the run, as fetch's global pool shared them
 * before the twenty-first round: no limit per server (node:http's default), so no login waits
 * for a connection here.
 */
const agent = new http.Agent({ keepAlive: true });

/**
 * One HTTP request with node:http, redirects not followed. The load generator shares the
 * machine's cores with the servers it measures: fetch (undici's WHATWG streams) cost the bench
 * process 3.3–4.7 ms of CPU a login on the AMD machine of the twenty-first round, taken from the
 * server under test; node:http 2.2–2.4 ms, the same client for every side.
 */
function request(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    // A failure once the answer has begun (a body cut off) is the login's: never sent again.
    let answered = false;
    const fail = (error: Error) => reject(answered ? new AnswerCutOff(url, error) : error);
    const req = http.request(
      url,
      {
        method: init.method ?? 'GET',
        agent,
        headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              get: (name) => {
                const value = res.headers[name.toLowerCase()];
                return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
              },
            },
            text: async () => text,
            json: async () => JSON.parse(text) as unknown,
          });
        });
      },
    );
    req.on('error', (error) => {
      // Sent again only for the reset of a kept-alive connection reused before any answer: the
      // server closed it as idle and never read this request (node:http's reusedSocket).
      if (!answered && req.reusedSocket && RESET_CODES.has((error as { code?: string }).code ?? '')) reject(new StaleConnection(error));
      else fail(error);
    });
    // fetch's own limit (undici's headersTimeout): a server that never answers fails the run.
    req.setTimeout(300_000, () => req.destroy(new Error(`no answer from ${String(url)} in 300 s`)));
    req.end(body);
  });
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** A kept-alive connection the server had closed, reset before any answer: safe to send again. */
class StaleConnection extends Error {
  constructor(readonly reset: Error) {
    super(reset.message);
  }
}

/** The answer began and then failed (a body cut off): the request was handled; the login fails. */
class AnswerCutOff extends Error {
  constructor(url: string | URL, cause: Error) {
    super(`the answer from ${String(url)} was cut off: ${cause.message}`, { cause });
  }
}

/**
 * One request, sent once more when a kept-alive connection it reused is reset before any answer:
 * on a loaded machine the client can reuse a socket the server has just closed as idle, and the
 * server never read the request. Browsers resend in that case too. Anything else, a reset after
 * the answer began among it, fails the login.
 */
export async function send(url: string | URL, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  try {
    return await request(url, init);
  } catch (error) {
    if (!(error instanceof StaleConnection)) throw error;
    resent++;
    return request(url, init);
  }
}
let resent = 0;
/** How many requests were sent again after a reset (reported with the login lines). */
export const resentRequests = () => resent;

/** Sends each request to the next node, as a round-robin load balancer in front of a cluster. */
export type Balancer = (publicUrl: string) => string;
export const direct: Balancer = (url) => url;
export function roundRobin(publicUrl: string, nodes: string[]): Balancer {
  let next = 0;
  return (url) => (url.startsWith(publicUrl) ? nodes[next++ % nodes.length] + url.slice(publicUrl.length) : url);
}

/** The browser's state between the authorize redirect and the IdP's answer. */
export interface PendingLogin {
  idpUrl: string;
  verifier: string;
  nonce: string;
  state: string;
  userId: string;
}

export interface LanyardTarget {
  publicUrl: string;
  connectionSid: string;
  balance: Balancer;
}

export async function lanyardAuthorize(target: LanyardTarget, userId: string): Promise<PendingLogin> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('hex');
  const nonce = randomBytes(16).toString('hex');
  const url = new URL('/v1/Flex/Authorize', target.publicUrl);
  for (const [k, v] of Object.entries({
    ssoProfileSid: target.connectionSid,
    redirectUrl: DESKTOP_URL,
    state,
    nonce,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  }))
    url.searchParams.set(k, v);
  const response = await send(target.balance(url.toString()));
  if (response.status !== 302) throw new Error(`authorize answered ${response.status}: ${await response.text()}`);
  return { idpUrl: response.headers.get('location')!, verifier, nonce, state, userId };
}

/** The IdP's part: sign-in page, user picked, signed response in an auto-POST form. */
export function idpLogin(idpUrl: string, pending: PendingLogin): Promise<AutoPostForm> {
  // Only the IdP's address (and its users, for passwords: the bench users have none) is needed.
  return loginHeadless({ url: idpUrl, users: [] } as unknown as DevIdp, pending.idpUrl, pending.userId);
}

/** ACS post, then the code exchange: the rest of the browser's and the SDK's journey. */
export async function lanyardComplete(target: LanyardTarget, pending: PendingLogin, form: AutoPostForm): Promise<void> {
  const acs = await send(target.balance(form.action), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form.fields).toString(),
  });
  if (acs.status !== 303) throw new Error(`ACS answered ${acs.status}: ${(await acs.text()).slice(0, 300)}`);
  const callback = new URL(acs.headers.get('location')!);
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== pending.state) throw new Error(`no code: ${callback}`);
  const token = await send(target.balance(`${target.publicUrl}/v1/Flex/OAuth/Tokens`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'AuthorizationCode',
      app_type: 'SinglePageApp',
      sso_profile_sid: target.connectionSid,
      code,
      code_verifier: pending.verifier,
      nonce: pending.nonce,
    }),
  });
  const body = (await token.json()) as { access_token?: string };
  if (token.status !== 200 || !body.access_token) throw new Error(`token answered ${token.status}: ${JSON.stringify(body)}`);
}

export async function jacksonAuthorize(jacksonUrl: string, userId: string): Promise<PendingLogin> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('hex');
  const url = new URL('/authorize', jacksonUrl);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    redirect_uri: DESKTOP_URL,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }))
    url.searchParams.set(k, v);
  const response = await send(url);
  if (response.status !== 302) throw new Error(`jackson authorize answered ${response.status}: ${await response.text()}`);
  return { idpUrl: response.headers.get('location')!, verifier, nonce: '', state, userId };
}

export async function jacksonComplete(jacksonUrl: string, pending: PendingLogin, form: AutoPostForm): Promise<void> {
  const acs = await send(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form.fields).toString(),
  });
  if (acs.status !== 302) throw new Error(`jackson ACS answered ${acs.status}: ${(await acs.text()).slice(0, 300)}`);
  const callback = new URL(acs.headers.get('location')!);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`jackson: no code in ${callback}`);
  const token = await send(new URL('/token', jacksonUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: DESKTOP_URL, code_verifier: pending.verifier }).toString(),
  });
  const body = (await token.json()) as { access_token?: string };
  if (token.status !== 200 || !body.access_token) throw new Error(`jackson token answered ${token.status}: ${JSON.stringify(body)}`);
}

/** Runs `count` tasks with at most `concurrency` in flight; returns the wall time in ms. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<{ ms: number; results: T[] }> {
  const results: T[] = new Array(count);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return { ms: performance.now() - started, results };
}
