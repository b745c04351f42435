import { admin, type AuditEvent } from '../api.ts';
import { formatDate, h, replace } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const SURFACES: Record<string, string> = {
  flex: 'Enhanced SSO',
  oidc: 'Standard OIDC',
  legacy: 'Legacy SSO',
  'legacy-idp-initiated': 'Legacy, started at the IdP',
  'console-test': 'Console test sign-in',
  console: 'Console',
  'admin-api': 'Admin API',
  cli: 'CLI',
};

const OUTCOMES: Record<AuditEvent['type'], string> = {
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed',
  'token.refresh_reuse': 'Refresh token reused (session revoked)',
  'code.replayed': 'Code replayed (tokens revoked)',
  'admin.change': 'Setting changed',
};

/** Recent sign-ins and failures: who, when, through which connection, and why it failed. */
export function auditSection(context: PageContext): Section & { refresh(): void } {
  const filter = h(
    'select',
    { id: 'audit-filter' },
    h('option', { value: 'logins' }, 'Sign-ins and failures'),
    h('option', { value: 'all' }, 'Everything, with setting changes'),
  );
  const refreshButton = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const table = h('div', { class: 'table-wrap', 'data-testid': 'audit' });
  let events: AuditEvent[] = [];
  let loaded = false;

  const render = () => {
    const shown = filter.value === 'all' ? events : events.filter((e) => e.type !== 'admin.change');
    replace(table, shown.length === 0 ? h('p', {}, 'Nothing yet.') : auditTable(shown));
  };
  const refresh = () => {
    void admin<{ events: AuditEvent[] }>('GET', `/accounts/${context.accountSid}/audit?limit=100`).then(
      (result) => {
        events = result.events;
        render();
      },
      (error: Error) => replace(table, h('p', { class: 'status error', role: 'alert' }, error.message)),
    );
  };
  filter.addEventListener('change', render);
  refreshButton.addEventListener('click', refresh);

  return {
    id: 'audit',
    title: 'Recent sign-ins',
    element: sectionCard(
      'audit',
      'Recent sign-ins and failures',
      'The last 100 events of this account, newest first (kept 90 days).',
      h('div', { class: 'inline-form' }, h('div', { class: 'field compact' }, h('label', { for: 'audit-filter' }, 'Show'), filter), refreshButton),
      table,
    ),
    // Fetched once with the page, then on demand: settings changes do not need a new audit read.
    update: () => {
      if (!loaded) refresh();
      loaded = true;
    },
    refresh,
  };
}

function auditTable(events: AuditEvent[]): HTMLElement {
  return h(
    'table',
    { class: 'audit' },
    h('caption', { class: 'visually-hidden' }, 'Audit events'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['When', 'What', 'Who', 'Connection', 'Through', 'Why'].map((title) => h('th', { scope: 'col' }, title)),
      ),
    ),
    h(
      'tbody',
      {},
      events.map((event) => {
        // Admin changes carry "actor: change" in reason; sign-ins carry the user's unique id.
        const [actor, change] =
          event.type === 'admin.change' && event.reason?.includes(': ') ? splitOnce(event.reason, ': ') : [event.unique_id, event.reason];
        const failed = event.type !== 'login.succeeded' && event.type !== 'admin.change';
        return h(
          'tr',
          { class: failed ? 'failed' : '' },
          h('td', {}, h('time', { datetime: event.at }, formatDate(event.at))),
          h(
            'td',
            {},
            h('span', { class: `badge ${failed ? 'bad' : event.type === 'admin.change' ? 'neutral' : 'good'}` }, OUTCOMES[event.type] ?? event.type),
          ),
          h('td', {}, actor ?? '—'),
          h('td', {}, event.connection_sid ? h('code', { title: event.connection_sid }, `${event.connection_sid.slice(0, 8)}…`) : '—'),
          h('td', {}, SURFACES[event.surface ?? ''] ?? event.surface ?? '—'),
          h('td', {}, event.code ? [h('code', {}, String(event.code)), ' '] : null, change ?? ''),
        );
      }),
    ),
  );
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return [text.slice(0, at), text.slice(at + separator.length)];
}
