import type { DevIdp } from './server.ts';

export interface AutoPostForm {
  action: string;
  fields: Record<string, string>;
}

const decode = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');

/** Reads the HTTP-POST binding form the IdP returns (what a browser would submit). */
export function parseAutoPostForm(html: string): AutoPostForm {
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  if (!action) throw new Error('no form in the IdP response');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[decode(match[1]!)] = decode(match[2]!);
  return { action: decode(action), fields };
}

/**
 * Plays the browser at the IdP without one: opens the IdP URL our server redirected to, picks
 * the user on the sign-in page, and returns the form the IdP would auto-submit to the ACS.
 */
export async function loginHeadless(idp: DevIdp, idpRedirectUrl: string, userId: string): Promise<AutoPostForm> {
  const page = await fetch(idpRedirectUrl);
  if (!page.ok) throw new Error(`IdP sign-in page answered ${page.status}: ${await page.text()}`);
  const pending = parseAutoPostForm(await page.text());
  const login = await fetch(new URL('/sso/login', idp.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...pending.fields, user: userId }),
  });
  if (!login.ok) throw new Error(`IdP login answered ${login.status}: ${await login.text()}`);
  return parseAutoPostForm(await login.text());
}
