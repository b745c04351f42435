import type { Context } from 'hono';
import type { TestSignInReport } from './responses.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #d0d7de;word-break:break-word}
th{width:30%;font-weight:600}.ok{color:#1a7f37}.bad{color:#cf222e}.box{border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
.bad.box{border-color:#cf222e;background:#fff5f5}.warn{border-color:#9a6700;background:#fff8c5}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:3px}`;

const PROTOCOL_NAMES = { saml: 'SAML 2.0', oidc: 'OpenID Connect' } as const;

const row = (name: string, value: string | null) =>
  `<tr><th scope="row">${escapeHtml(name)}</th><td>${value === null ? '<em>none</em>' : escapeHtml(value)}</td></tr>`;

/**
 * The issuer the IdP sent; when its answer carried none (an error answer, an unreadable response),
 * the connection's configured one, marked as such; and the configured one beside a different one sent.
 */
function issuerRows(report: TestSignInReport): string {
  const configured = report.configured_issuer ?? null;
  if (report.issuer === null) return row('Issuer', configured === null ? null : `${configured} (configured; the answer named none)`);
  return row('Issuer', report.issuer) + (configured !== null && configured !== report.issuer ? row('Configured issuer', configured) : '');
}

/**
 * The page the test sign-in window shows: served at the ACS or the OIDC callback, under the
 * default CSP (no script).
 * The console shows the same report from the API, so closing this window loses nothing.
 */
export function testReportPage(report: TestSignInReport): string {
  const verdict = report.succeeded
    ? `<p class="ok box" role="status"><strong>Test sign-in succeeded.</strong> An agent with these attributes can sign in. No token was issued and no user was created.</p>`
    : `<div class="bad box" role="alert"><p><strong>Test sign-in failed.</strong> ${report.error ? `Error <code>${report.error.code}</code>: ${escapeHtml(report.error.message)}` : ''}</p></div>`;
  const missing = report.missing.length
    ? `<h2>Missing mandatory attributes</h2>${report.missing
        .map((m) => `<div class="bad box"><p><strong>${escapeHtml(m.attribute)}</strong></p><p>${escapeHtml(m.explanation)}</p></div>`)
        .join('')}`
    : '';
  const warnings = report.warnings.map((w) => `<p class="warn box">${escapeHtml(w)}</p>`).join('');
  const attributes = Object.entries(report.attributes);
  const received = attributes.length
    ? `<table><tbody>${attributes.map(([name, values]) => row(name, values.join(', '))).join('')}</tbody></table>`
    : '<p>No attributes were received.</p>';
  const p = report.profile;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Test sign-in report</title><style>${STYLE}</style></head>
<body><main>
<h1>Test sign-in report</h1>
${verdict}${missing}${warnings}
<h2>Identity provider</h2>
<table><tbody>${issuerRows(report)}${row('Unique id (NameID or sub)', report.name_id)}${row('Protocol', report.protocol ? PROTOCOL_NAMES[report.protocol] : null)}${row('Service provider used', report.service_provider)}${row('Connection', report.connection_sid)}</tbody></table>
<h2>Attributes (claims) received</h2>${received}
<h2>Profile Lanyard would use</h2>
<table><tbody>${row('full_name', p.full_name)}${row('email', p.email)}${row('roles', p.roles.length ? p.roles.join(', ') : null)}${row('dropped role values', report.dropped_roles.length ? report.dropped_roles.join(', ') : null)}${row('image_url', p.image_url)}</tbody></table>
<p>This report also appears in the console. You can close this window.</p>
</main></body></html>`;
}

/** The ACS's or OIDC callback's answer to a test sign-in: the report, never cached, never a redirect carrying a token. */
export function testReportResponse(c: Context, report: TestSignInReport): Response {
  c.header('Cache-Control', 'no-store');
  return c.html(testReportPage(report));
}
