import type { DevUser } from './users.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}.note{color:#57606a;font-size:.9rem}button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;
font:inherit;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}button:focus,button:hover{border-color:#0969da;outline:2px solid #0969da}
.roles{color:#57606a;font-size:.85rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** The sign-in page: one button per test user; the pending request rides in hidden fields. */
export function loginPage(users: DevUser[], pending: Record<string, string>, spName: string): string {
  const hidden = Object.entries(pending)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  const buttons = users
    .map(
      (u) =>
        `<button type="submit" name="user" value="${escapeHtml(u.id)}" aria-label="Sign in as ${escapeHtml(u.full_name)}">
<strong>${escapeHtml(u.full_name)}</strong> &lt;${escapeHtml(u.email)}&gt;<br><span class="roles">${escapeHtml(u.roles.join(', ') || 'no roles')}</span></button>`,
    )
    .join('');
  return page(
    'Development IdP — sign in',
    `<h1>Development identity provider</h1>
<p>Sign in to <strong>${escapeHtml(spName)}</strong> as one of the test users.</p>
<form method="post" action="/sso/login">${hidden}${buttons}</form>
<p class="note">Development only: this IdP trusts any service provider and has no passwords. Never use it in production.</p>`,
  );
}

/** The SAML HTTP-POST binding: a form that submits itself to the ACS (with a button for no-JS). */
export function autoPostForm(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(
    'Signing in…',
    `<form id="saml" method="post" action="${escapeHtml(action)}">${inputs}<noscript><p>JavaScript is off: press the button to continue.</p></noscript><button type="submit">Continue</button></form>
<script>document.getElementById('saml').submit()</script>`,
  );
}

export function usersPage(users: DevUser[]): string {
  const rows = users.map((u) => `<li><strong>${escapeHtml(u.full_name)}</strong> — ${escapeHtml(u.id)} — ${escapeHtml(u.roles.join(', '))}</li>`).join('');
  return page('Development IdP', `<h1>Development identity provider</h1><p>Test users:</p><ul>${rows}</ul><p><a href="/metadata">IdP metadata</a></p>`);
}
