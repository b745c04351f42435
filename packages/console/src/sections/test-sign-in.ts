import { api, ApiError, type TestSignInReport, type TestSignInStarted, type TestSignInStatus } from '../api.ts';
import { field, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

/** Polls share the admin rate limit (per client address) with everything else the console does. */
const POLL_MS = 2000;
const RATE_LIMITED_RETRY_MS = 10_000;
/** Past the sign-in's end the server answers "expired"; this is a fallback if it never does. */
const GIVE_UP_GRACE_MS = 60_000;
const WINDOW_FEATURES = 'popup,width=760,height=820';
const PROTOCOL_NAMES = { saml: 'SAML 2.0', oidc: 'OpenID Connect' } as const;

/**
 * "Test sign-in": a real sign-in at the IdP (SAML or OpenID Connect) in a new window. The server
 * turns the IdP's answer into a report instead of a token; this page asks for it until it is there.
 */
export function testSignInSection(context: PageContext): Section {
  const legacy = h('option', { value: 'legacy' }, 'Legacy SSO service provider (SAML only)');
  const sp = h('select', {}, h('option', { value: 'enhanced' }, 'Enhanced SSO service provider'), legacy);
  const start = h('button', { type: 'button' }, 'Test sign-in');
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Stop waiting');
  const status = statusLine();
  const report = h('div', { 'data-testid': 'test-report' });
  let polling: number | undefined;

  const stop = () => {
    window.clearTimeout(polling);
    polling = undefined;
    cancel.hidden = true;
    start.disabled = false;
  };
  cancel.addEventListener('click', () => {
    stop();
    status.ok('Stopped waiting. Start a new test sign-in when you are ready.');
  });

  start.addEventListener('click', async () => {
    // Opened before any await: browsers allow a window only in direct answer to the click.
    const popup = window.open('', 'lanyard-test-sign-in', WINDOW_FEATURES);
    if (!popup) return status.error('The browser blocked the sign-in window: allow pop-ups for this page and try again.');
    start.disabled = true;
    replace(report);
    status.ok('Opening the identity provider…');
    try {
      const test = await api<TestSignInStarted>('POST', '/console/test-sign-in', {
        account_sid: context.accountSid,
        service_provider: sp.value,
      });
      // The IdP's pages must not be able to reach back into the console.
      popup.opener = null;
      popup.location.href = test.url;
      status.ok(`Sign in at the identity provider in the new window. The report appears here when it answers. ${test.waiting}`);
      cancel.hidden = false;
      const giveUpAt = Date.parse(test.expires_at) + GIVE_UP_GRACE_MS;
      const poll = async () => {
        try {
          const result = await api<TestSignInStatus>('GET', `/console/test-sign-in/${encodeURIComponent(test.id)}`);
          if (result.status === 'done') {
            stop();
            replace(report, reportView(result.report));
            status.ok(result.report.succeeded ? 'Test sign-in succeeded.' : 'Test sign-in failed: see the report below.');
            context.refreshAudit();
            return;
          }
          if (result.status === 'expired') {
            // The IdP never answered within the sign-in lifetime: the server says what to register there.
            stop();
            return status.error(result.message);
          }
        } catch (error) {
          if (error instanceof ApiError && error.status === 429) {
            polling = window.setTimeout(() => void poll(), RATE_LIMITED_RETRY_MS);
            return;
          }
          stop();
          return status.error((error as Error).message);
        }
        if (Date.now() > giveUpAt) {
          stop();
          return status.error(
            `No answer from the identity provider before ${new Date(test.expires_at).toLocaleTimeString()}. Start a new test sign-in.`,
          );
        }
        polling = window.setTimeout(() => void poll(), POLL_MS);
      };
      polling = window.setTimeout(() => void poll(), POLL_MS);
    } catch (error) {
      popup.close();
      stop();
      status.error((error as Error).message);
    }
  });

  return {
    id: 'test',
    title: 'Test sign-in',
    element: sectionCard(
      'test',
      'Test sign-in',
      'Sign in at your IdP (SAML or OpenID Connect) as a real user, in a new window. Lanyard checks the answer as it would for an agent and shows what it received and what is missing. No token is issued and no user is created. OpenID Connect providers answer the enhanced service provider only.',
      h('div', { class: 'inline-form' }, field('Service provider to test', sp), start, cancel),
      status.element,
      report,
    ),
    update({ account, connection }) {
      // An OpenID Connect provider calls back at the enhanced service provider only.
      legacy.disabled = connection?.protocol === 'oidc';
      if (polling === undefined) sp.value = account.sso_mode === 'legacy' && !legacy.disabled ? 'legacy' : 'enhanced';
    },
  };
}

export function reportView(report: TestSignInReport): HTMLElement {
  const rows = (pairs: [string, string | null][]) =>
    h(
      'tbody',
      {},
      pairs.map(([name, value]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, value ?? h('em', {}, 'none')))),
    );
  const attributes = Object.entries(report.attributes);
  return h(
    'div',
    { class: 'report' },
    h('h3', {}, 'Report'),
    report.succeeded
      ? h('p', { class: 'status ok' }, `Signed in as ${report.name_id}. An agent with these attributes can sign in.`)
      : h('p', { class: 'status error' }, report.error ? `Error ${report.error.code}: ${report.error.message}` : 'The sign-in failed.'),
    report.missing.map((m) =>
      h('div', { class: 'missing', 'data-testid': 'missing-attribute' }, h('h4', {}, `Missing: ${m.attribute}`), h('p', {}, m.explanation)),
    ),
    report.warnings.map((w) => h('p', { class: 'status warn' }, w)),
    h('h4', {}, 'Attributes (claims) received'),
    attributes.length
      ? h('table', { class: 'pairs-table', 'data-testid': 'attributes' }, rows(attributes.map(([name, values]) => [name, values.join(', ')])))
      : h('p', {}, 'No attributes were received.'),
    h('h4', {}, 'Profile Lanyard would use'),
    h(
      'table',
      { class: 'pairs-table', 'data-testid': 'profile' },
      rows([
        ['Unique id (NameID or sub)', report.name_id],
        ['full_name', report.profile.full_name],
        ['email', report.profile.email],
        ['roles', report.profile.roles.length ? report.profile.roles.join(', ') : null],
        ['dropped role values', report.dropped_roles?.length ? report.dropped_roles.join(', ') : null],
        ['image_url', report.profile.image_url],
      ]),
    ),
    h(
      'p',
      { class: 'help' },
      `Through the ${report.service_provider} service provider, connection ${report.connection_sid}` +
        `${report.protocol ? ` (${PROTOCOL_NAMES[report.protocol]})` : ''}; IdP ${issuerOf(report)}.`,
    ),
  );
}

/** The issuer the IdP sent, or else the connection's configured one (marked), or else unknown. */
function issuerOf(report: TestSignInReport): string {
  if (report.issuer) return report.issuer;
  return report.configured_issuer ? `${report.configured_issuer} (configured; the answer named none)` : 'unknown';
}
