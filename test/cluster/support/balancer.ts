import { randomBytes } from 'node:crypto';
import { loginHeadless, type DevIdp } from '../../../packages/demo/src/dev-idp/index.ts';
import { DESKTOP_URL, pkcePair } from '../../support/flows.ts';
import { at, isConnectionError, type LanyardNode } from './nodes.ts';

export interface Sent {
  response: Response;
  node: LanyardNode;
  /** Attempts that failed at the connection level before this one answered. */
  retries: number;
}

/**
 * What a client behind a load balancer sees: every request names the public address, the
 * balancer picks a node, and a request whose connection fails is sent again to the next node
 * (a desktop's retry, or the balancer's). Loopback only.
 */
export class Balancer {
  constructor(readonly nodes: LanyardNode[]) {}

  async send(url: string, init: RequestInit, preferred: number): Promise<Sent> {
    let retries = 0;
    for (let i = 0; i < this.nodes.length * 2; i++) {
      const node = this.nodes[(preferred + i) % this.nodes.length]!;
      try {
        return { response: await fetch(at(node, url), { ...init, signal: AbortSignal.timeout(15_000) }), node, retries };
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        retries++;
      }
    }
    throw new Error(`no node answered ${new URL(url).pathname}`);
  }
}

export interface AgentTokens {
  access_token: string;
  refresh_token: string;
  [key: string]: unknown;
}

export interface LoginReport {
  tokens: AgentTokens;
  /** Logins begun again from authorize because a retried step found its first try had completed. */
  restarts: number;
  retries: number;
  /** Sessions our own retried code exchange revoked (the first try had committed: code replay). */
  replayedCodes: number;
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

/**
 * A whole enhanced sign-in through the balancer, each step on the node `pick()` chooses. A step
 * retried after a connection failure may find its first try already done (the ACS consumed the
 * login request; the code was exchanged): then, like a desktop, the agent starts again. A failure
 * without a retry before it is a real failure and throws.
 */
export async function loginThrough(
  balancer: Balancer,
  publicUrl: string,
  idp: DevIdp,
  connectionSid: string,
  userId: string,
  pick: () => number,
): Promise<LoginReport> {
  const report = { restarts: 0, retries: 0, replayedCodes: 0 };
  for (let attempt = 0; attempt < 5; attempt++) {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(12).toString('hex');
    const nonce = randomBytes(12).toString('hex');
    const authorizeUrl = new URL('/v1/Flex/Authorize', publicUrl);
    for (const [k, v] of Object.entries({
      ssoProfileSid: connectionSid,
      redirectUrl: DESKTOP_URL,
      state,
      nonce,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    })) {
      authorizeUrl.searchParams.set(k, v);
    }
    const start = await balancer.send(authorizeUrl.toString(), { redirect: 'manual' }, pick());
    report.retries += start.retries;
    if (start.response.status !== 302)
      throw new Error(`authorize on ${start.node.name} answered ${start.response.status}: ${await start.response.text()}`);
    const idpForm = await loginHeadless(idp, start.response.headers.get('location')!, userId);
    const acs = await balancer.send(idpForm.action, form(idpForm.fields as Record<string, string>), pick());
    report.retries += acs.retries;
    if (acs.response.status !== 303) {
      const text = await acs.response.text();
      if (acs.retries > 0 && /already completed|replay/i.test(text)) {
        report.restarts++;
        continue;
      }
      throw new Error(`ACS on ${acs.node.name} answered ${acs.response.status}: ${text.slice(0, 300)}`);
    }
    const code = new URL(acs.response.headers.get('location')!).searchParams.get('code');
    if (!code) throw new Error(`ACS on ${acs.node.name} sent no code: ${acs.response.headers.get('location')}`);
    const exchange = await balancer.send(
      `${publicUrl}/v1/Flex/OAuth/Tokens`,
      json({ grant_type: 'AuthorizationCode', app_type: 'SinglePageApp', sso_profile_sid: connectionSid, code, code_verifier: verifier, nonce }),
      pick(),
    );
    report.retries += exchange.retries;
    const body = (await exchange.response.json()) as AgentTokens & { message?: string };
    if (exchange.response.status === 200) return { tokens: body, ...report };
    if (exchange.retries > 0 && /already been used/.test(body.message ?? '')) {
      report.restarts++;
      report.replayedCodes++;
      continue;
    }
    throw new Error(`code exchange on ${exchange.node.name} answered ${exchange.response.status}: ${JSON.stringify(body)}`);
  }
  throw new Error(`${userId} could not sign in after 5 attempts`);
}

/** One refresh through the balancer; a connection failure is retried with the same token elsewhere. */
export async function refreshThrough(balancer: Balancer, publicUrl: string, connectionSid: string, refreshToken: string, preferred: number) {
  const sent = await balancer.send(
    `${publicUrl}/v1/Flex/OAuth/Tokens`,
    json({ grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: connectionSid }),
    preferred,
  );
  return { status: sent.response.status, body: (await sent.response.json()) as AgentTokens, node: sent.node, retries: sent.retries };
}

/** The `sid` (session = refresh family) and `kid` of an access token, read without verifying. */
export function tokenFacts(accessToken: string): { sid: string; kid: string } {
  const [header, payload] = accessToken
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, string>) as [
    Record<string, string>,
    Record<string, string>,
  ];
  return { sid: payload.sid!, kid: header.kid! };
}
