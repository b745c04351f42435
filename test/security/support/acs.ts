import { DOMParser } from '@xmldom/xmldom';
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { DevIdp } from '../../../packages/demo/src/dev-idp/index.ts';
import type { TestLanyard } from '../../support/lanyard.ts';
import { DESKTOP_URL, pkcePair, postForm, postJson } from '../../support/flows.ts';

/** The two SAML assertion consumer services an attacker can post to. */
export type AcsFlow = 'enhanced' | 'legacy';
export const ACS_FLOWS: AcsFlow[] = ['enhanced', 'legacy'];

/** A sign-in we started for real, waiting for the IdP's answer at the ACS. */
export interface PendingSignIn {
  flow: AcsFlow;
  /** From the AuthnRequest Lanyard sent: where and for whom the IdP answers. */
  acsUrl: string;
  audience: string;
  requestId: string;
  relayState: string;
  /** Enhanced only: what the desktop keeps to redeem the code. */
  verifier: string;
  nonce: string;
}

/** What the ACS did with a posted response. */
export interface AcsOutcome {
  status: number;
  /** A code (enhanced) or a token (legacy) came back: the sign-in succeeded. */
  issued: boolean;
  /** The NameID of whoever was signed in, when `issued`. */
  signedInAs: string | null;
  /** The roles the issued token carries, when `issued`. */
  roles: string[];
  /** Why not, in the words the response carries (error_description, JSON message or page text). */
  reason: string;
}

export interface AcsContext {
  lanyard: TestLanyard;
  accountSid: string;
  connectionSid: string;
}

/** Reads the HTTP-Redirect AuthnRequest from the IdP URL Lanyard sends the browser to. */
export function readAuthnRequest(idpUrl: string): { id: string; acsUrl: string; issuer: string; relayState: string } {
  const url = new URL(idpUrl);
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
  const issuer = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]?.textContent ?? '';
  return {
    id: root.getAttribute('ID')!,
    acsUrl: root.getAttribute('AssertionConsumerServiceURL')!,
    issuer,
    relayState: url.searchParams.get('RelayState') ?? '',
  };
}

/** Starts a real SP-initiated sign-in on `flow` and returns what the IdP would be asked to answer. */
export async function beginSignIn(ctx: AcsContext, flow: AcsFlow): Promise<PendingSignIn> {
  const { verifier, challenge } = pkcePair();
  const nonce = randomBytes(8).toString('hex');
  let idpUrl: string;
  if (flow === 'enhanced') {
    const url = new URL('/v1/Flex/Authorize', ctx.lanyard.url);
    const params = {
      ssoProfileSid: ctx.connectionSid,
      redirectUrl: DESKTOP_URL,
      state: 'st-' + nonce,
      nonce,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) throw new Error(`authorize answered ${response.status}: ${await response.text()}`);
    idpUrl = response.headers.get('location')!;
  } else {
    const response = await postJson(`${ctx.lanyard.url}/v1/Accounts/${ctx.accountSid}/authenticate`, { products: ['flex'], resource: DESKTOP_URL });
    if (response.status !== 200) throw new Error(`authenticate answered ${response.status}: ${JSON.stringify(response.body)}`);
    idpUrl = String(response.body.location);
  }
  const request = readAuthnRequest(idpUrl);
  return { flow, acsUrl: request.acsUrl, audience: request.issuer, requestId: request.id, relayState: request.relayState, verifier, nonce };
}

/** A genuine response of the IdP to `pending`, for `userId`. */
export function genuineResponse(
  idp: DevIdp,
  pending: PendingSignIn,
  userId: string,
  options: { signResponse?: boolean; signAssertion?: boolean; lifetimeSeconds?: number } = {},
): Promise<string> {
  return idp
    .createResponse({ userId, acsUrl: pending.acsUrl, audience: pending.audience, inResponseTo: pending.requestId, ...options })
    .then((r) => r.SAMLResponse);
}

/** POSTs `samlResponse` to the pending sign-in's ACS, as the browser would, and reads the outcome. */
export async function postToAcs(
  ctx: AcsContext,
  pending: PendingSignIn,
  samlResponse: string,
  relayState: string | undefined = pending.relayState,
): Promise<AcsOutcome> {
  const response = await postForm(pending.acsUrl, { SAMLResponse: samlResponse, RelayState: relayState });
  return readOutcome(ctx, pending, response);
}

export async function readOutcome(
  ctx: AcsContext,
  pending: Pick<PendingSignIn, 'flow' | 'verifier' | 'nonce'>,
  response: Response,
): Promise<AcsOutcome> {
  const location = response.headers.get('location');
  if (response.status !== 303 || !location) {
    const text = await response.text();
    let reason = text;
    try {
      reason = String((JSON.parse(text) as { message?: string }).message ?? text);
    } catch {
      // an HTML page: its text is the reason
    }
    return { status: response.status, issued: false, signedInAs: null, roles: [], reason };
  }
  const back = new URL(location);
  if (pending.flow === 'legacy') {
    const token = back.searchParams.get('Token');
    if (!token) return { status: 303, issued: false, signedInAs: null, roles: [], reason: back.search };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { name_id: string; roles: string[] };
    return { status: 303, issued: true, signedInAs: claims.name_id, roles: claims.roles, reason: '' };
  }
  const code = back.searchParams.get('code');
  if (!code) return { status: 303, issued: false, signedInAs: null, roles: [], reason: back.searchParams.get('error_description') ?? back.search };
  // Redeem the code as the desktop would, to learn who it signs in.
  const tokens = await postJson(`${ctx.lanyard.url}/v1/Flex/OAuth/Tokens`, {
    grant_type: 'AuthorizationCode',
    app_type: 'SinglePageApp',
    sso_profile_sid: ctx.connectionSid,
    code,
    code_verifier: pending.verifier,
    nonce: pending.nonce,
  });
  const info = tokens.body.token_info as { name_id?: string; roles?: string[] } | undefined;
  return { status: 303, issued: true, signedInAs: info?.name_id ?? null, roles: info?.roles ?? [], reason: '' };
}

/** The newest audit entry of the account: failed sign-ins are recorded with their reason. */
export async function lastAuditReason(ctx: AcsContext): Promise<string> {
  const [event] = await ctx.lanyard.services.audit.recent(ctx.accountSid, 1);
  return event?.type === 'login.failed' ? (event.reason ?? '') : `(last event: ${event?.type ?? 'none'})`;
}
