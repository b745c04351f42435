import { createHash, randomBytes } from 'node:crypto';
import { loginHeadless, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import type { TestLanyard } from './lanyard.ts';

export const DESKTOP_ORIGIN = 'http://127.0.0.1:5173';
export const DESKTOP_URL = `${DESKTOP_ORIGIN}/desktop/`;

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An account wired to the IdP through its metadata, with the desktop's origin trusted. */
export async function setupAccount(lanyard: TestLanyard, idp: DevIdp, options: { trusted?: string[]; defaultRedirect?: string | null } = {}) {
  const { accounts } = lanyard.services;
  const { account, authToken } = await accounts.createAccount('Test contact center');
  const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
  for (const url of options.trusted ?? [DESKTOP_URL]) await accounts.addTrustedUrl(account.sid, url);
  const redirect = options.defaultRedirect === undefined ? DESKTOP_URL : options.defaultRedirect;
  if (redirect !== null) await accounts.setDefaultRedirectUrl(account.sid, redirect);
  return { account, authToken, connection };
}

export interface AuthorizeParams {
  ssoProfileSid: string;
  redirectUrl?: string;
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

export async function authorize(lanyard: Pick<TestLanyard, 'url'>, params: AuthorizeParams, headers: Record<string, string> = {}): Promise<Response> {
  const url = new URL('/v1/Flex/Authorize', lanyard.url);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return fetch(url, { redirect: 'manual', headers });
}

/** POSTs the IdP's auto-submit form to our ACS, as the browser would. */
export async function postForm(action: string, fields: { [name: string]: string | undefined }): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) body.set(name, value);
  return fetch(action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
}

export interface FlexLogin {
  code: string;
  state: string;
  nonce: string;
  verifier: string;
  callback: URL;
}

/** The browser's whole journey: authorize → IdP login as `userId` → ACS → back with a code. */
export async function flexLogin(
  lanyard: Pick<TestLanyard, 'url'>,
  idp: DevIdp,
  connectionSid: string,
  userId: string,
  redirectUrl = DESKTOP_URL,
): Promise<FlexLogin> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('hex');
  const nonce = randomBytes(16).toString('hex');
  const start = await authorize(lanyard, {
    ssoProfileSid: connectionSid,
    redirectUrl,
    state,
    nonce,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
  if (start.status !== 302) throw new Error(`authorize answered ${start.status}: ${await start.text()}`);
  const form = await loginHeadless(idp, start.headers.get('location')!, userId);
  const acs = await postForm(form.action, form.fields);
  if (acs.status !== 303) throw new Error(`ACS answered ${acs.status}: ${await acs.text()}`);
  const callback = new URL(acs.headers.get('location')!);
  return { code: callback.searchParams.get('code') ?? '', state: callback.searchParams.get('state') ?? '', nonce, verifier, callback };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function exchangeCode(lanyard: TestLanyard, connectionSid: string, login: FlexLogin, overrides: Record<string, unknown> = {}) {
  return postJson(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
    grant_type: 'AuthorizationCode',
    app_type: 'SinglePageApp',
    sso_profile_sid: connectionSid,
    code: login.code,
    code_verifier: login.verifier,
    nonce: login.nonce,
    ...overrides,
  });
}

export async function refreshTokens(lanyard: TestLanyard, connectionSid: string, refreshToken: string) {
  return postJson(`${lanyard.url}/v1/Flex/OAuth/Tokens`, { grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: connectionSid });
}

export async function validateToken(lanyard: TestLanyard, accountSid: string, authToken: string, token: string) {
  return postJson(
    `${lanyard.url}/v1/Accounts/${accountSid}/Tokens/validate`,
    { token },
    { authorization: 'Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64') },
  );
}
