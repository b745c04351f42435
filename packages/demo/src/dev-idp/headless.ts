import type { DevIdp } from './server.ts';

/** An HTML form as a browser would submit it: where to, and its hidden fields. */
export interface AutoPostForm {
  action: string;
  fields: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeHtml = (s: string) =>
  s.replace(/&(?:#x([0-9a-f]+)|#(\d+)|([a-z]+));/gi, (whole, hex?: string, decimal?: string, name?: string) =>
    hex ? String.fromCodePoint(Number.parseInt(hex, 16)) : decimal ? String.fromCodePoint(Number(decimal)) : (ENTITIES[name!.toLowerCase()] ?? whole),
  );

/** The attributes of one start tag, decoded (double-quoted values, as this IdP writes them). */
function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [, name, value] of tag.matchAll(/\s([a-zA-Z-]+)="([^"]*)"/g)) attributes[name!.toLowerCase()] = decodeHtml(value!);
  return attributes;
}

/**
 * Reads the first form of an IdP page: the HTTP-POST binding form (action = the ACS; fields
 * `SAMLResponse`, `RelayState`) or the sign-in page's form (the pending request's hidden fields).
 */
export function parseAutoPostForm(html: string): AutoPostForm {
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(html)?.[0];
  if (!form) throw new Error('no form in the IdP page');
  const action = attributesOf(/^<form\b[^>]*>/i.exec(form)![0]).action;
  if (action === undefined) throw new Error('the IdP form has no action');
  const fields: Record<string, string> = {};
  for (const [input] of form.matchAll(/<input\b[^>]*>/gi)) {
    const { type, name, value } = attributesOf(input);
    if (type === 'hidden' && name !== undefined) fields[name] = value ?? '';
  }
  return { action, fields };
}

/**
 * Plays the browser at the IdP without one: opens the IdP URL the SP redirected to, picks the
 * user on the sign-in page (typing the user's password if it has one), and returns the form the
 * IdP would auto-submit to the ACS. POST `fields` to `action` as application/x-www-form-urlencoded.
 */
export async function loginHeadless(idp: DevIdp, idpRedirectUrl: string, userId: string): Promise<AutoPostForm> {
  const page = await fetch(idpRedirectUrl);
  if (!page.ok) throw new Error(`IdP sign-in page answered ${page.status}: ${await page.text()}`);
  const pending = parseAutoPostForm(await page.text());
  const password = idp.users.find((u) => u.id === userId)?.password;
  const login = await fetch(new URL(pending.action, idp.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...pending.fields, user: userId, ...(password === undefined ? {} : { password }) }),
  });
  if (!login.ok) throw new Error(`IdP login answered ${login.status}: ${await login.text()}`);
  return parseAutoPostForm(await login.text());
}
