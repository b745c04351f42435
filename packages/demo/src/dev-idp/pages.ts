import type { ServiceProviderRegistration } from './service-providers.ts';
import type { DevUser } from './users.ts';

/** Every interpolated value goes through this: user names, entity IDs and URLs come from outside. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}.note{color:#57606a;font-size:.9rem}code{overflow-wrap:anywhere}
button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;font:inherit;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}
button:focus,button:hover{border-color:#0969da;outline:2px solid #0969da}label{display:block;margin:1rem 0 .25rem}
input[type=password]{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}.details{color:#57606a;font-size:.85rem}
.error{color:#82071e;background:#ffebe9;border:1px solid #ff8182;border-radius:6px;padding:.5rem 1rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

const hiddenInputs = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');

export interface LoginPageOptions {
  users: readonly DevUser[];
  /** The request being answered, carried through the form: the IdP keeps no state between the two steps. */
  pending: Record<string, string>;
  /** The SP's entity ID and where the response will be posted. */
  audience: string;
  acsUrl: string;
  error?: string;
}

/** The sign-in page: one button per test user, an optional password, the pending request in hidden fields. */
export function loginPage({ users, pending, audience, acsUrl, error }: LoginPageOptions): string {
  const buttons = users
    .map(
      (
        u,
        i,
      ) => `<button type="submit" name="user" value="${escapeHtml(u.id)}" aria-label="Sign in as ${escapeHtml(u.full_name)}" aria-describedby="user-${i}">
<strong>${escapeHtml(u.full_name)}</strong><br><span class="details" id="user-${i}">${escapeHtml(u.email)} · ${escapeHtml(u.roles.join(', ') || 'no roles')}${u.password === undefined ? '' : ' · password required'}</span></button>`,
    )
    .join('');
  const password = users.some((u) => u.password !== undefined)
    ? `<label for="password">Password <span class="details">(only for test users marked "password required")</span></label><input id="password" type="password" name="password" autocomplete="current-password">`
    : '';
  return page(
    'Development IdP — sign in',
    `<h1>Development identity provider</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<p>Sign in to <code>${escapeHtml(audience)}</code> as one of the test users. The response goes to <code>${escapeHtml(acsUrl)}</code>.</p>
<form method="post" action="/sso/login">${hiddenInputs(pending)}${password}${buttons}</form>
<p class="note">Development only: this IdP answers any service provider that sends it a request, at the ACS URL the request names, and its users are test users. Never use it in production.</p>`,
  );
}

/** The SAML HTTP-POST binding: a form that submits itself to the ACS, with a button for when JavaScript is off. */
export function autoPostForm(action: string, fields: Record<string, string>): string {
  return page(
    'Signing in…',
    `<form id="saml" method="post" action="${escapeHtml(action)}">${hiddenInputs(fields)}<noscript><p>JavaScript is off: press the button to continue.</p></noscript><button type="submit">Continue</button></form>
<script>document.getElementById('saml').submit()</script>`,
  );
}

/** The home page: the test users, and an IdP-initiated sign-in link per registered SP. */
export function homePage(users: readonly DevUser[], serviceProviders: readonly ServiceProviderRegistration[]): string {
  const userRows = users
    .map((u) => `<li><strong>${escapeHtml(u.full_name)}</strong> — ${escapeHtml(u.id)} — ${escapeHtml(u.roles.join(', ') || 'no roles')}</li>`)
    .join('');
  const spRows = serviceProviders
    .map((sp) => `<li><a href="/sso/initiate?sp=${encodeURIComponent(sp.entityId)}">Sign in to ${escapeHtml(sp.entityId)}</a> (IdP-initiated)</li>`)
    .join('');
  return page(
    'Development IdP',
    `<h1>Development identity provider</h1><p>Test users:</p><ul>${userRows}</ul>
${spRows ? `<p>Registered service providers:</p><ul>${spRows}</ul>` : ''}<p><a href="/metadata">IdP metadata</a></p>
<p class="note">Development only. Never use it in production.</p>`,
  );
}

/** A browser-facing failure: what went wrong and what to do, never a stack trace. */
export function errorPage(message: string, hint: string): string {
  return page(
    'Development IdP — error',
    `<h1>Development identity provider</h1><p class="error" role="alert">${escapeHtml(message)}</p><p>${escapeHtml(hint)}</p>`,
  );
}
