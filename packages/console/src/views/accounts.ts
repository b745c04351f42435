import { admin, type Account, type AccountSummary, type Connection } from '../api.ts';
import { copyable, field, formatDate, h, replace, statusLine } from '../dom.ts';

const MODE_NAMES = { legacy: 'Legacy', enhanced: 'Enhanced', both: 'Both (migration)' } as const;

/** Accounts: the list, and creation (the account's auth token is shown here, once). */
export function accountsPage(): HTMLElement {
  const list = h('div', { class: 'table-wrap' }, h('p', {}, 'Loading accounts…'));
  const created = h('div');
  const name = h('input', { type: 'text', name: 'friendly_name', maxlength: 200, required: true, placeholder: 'Acme contact center' });
  const status = statusLine();
  const submit = h('button', { type: 'submit' }, 'Create account');
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Create an account'),
    field('Account name', name),
    submit,
    status.element,
  );

  async function load(): Promise<void> {
    try {
      const { accounts } = await admin<{ accounts: AccountSummary[] }>('GET', '/accounts');
      replace(list, accounts.length === 0 ? h('p', {}, 'No accounts yet: create the first one below.') : accountTable(accounts));
    } catch (error) {
      replace(list, h('p', { class: 'status error', role: 'alert' }, (error as Error).message));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    status.ok('Creating the account…');
    try {
      const account = await admin<Account & { auth_token: string }>('POST', '/accounts', { friendly_name: name.value.trim() });
      // The connection exists from the start: its SID is part of the SP values for the IdP.
      await admin<Connection>('POST', `/accounts/${account.sid}/connections`);
      name.value = '';
      status.ok(`Account "${account.friendly_name}" created.`);
      replace(created, createdNotice(account));
      created.querySelector<HTMLElement>('h2')?.focus();
      await load();
    } catch (error) {
      status.error((error as Error).message);
    } finally {
      submit.disabled = false;
    }
  });

  void load();
  return h(
    'div',
    { class: 'page' },
    h('h1', { tabindex: -1 }, 'Accounts'),
    h('p', { class: 'lead' }, 'Each account is one contact center: its identity provider, Trusted URLs and desktops.'),
    created,
    list,
    form,
  );
}

function accountTable(accounts: AccountSummary[]): HTMLElement {
  return h(
    'table',
    { class: 'accounts' },
    h('caption', { class: 'visually-hidden' }, 'Accounts'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Account SID'),
        h('th', { scope: 'col' }, 'SSO mode'),
        h('th', { scope: 'col' }, 'Created'),
      ),
    ),
    h(
      'tbody',
      {},
      accounts.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/accounts/${a.sid}` }, a.friendly_name)),
          h('td', {}, h('code', {}, a.sid)),
          h('td', {}, MODE_NAMES[a.sso_mode]),
          h('td', {}, formatDate(a.created_at)),
        ),
      ),
    ),
  );
}

function createdNotice(account: Account & { auth_token: string }): HTMLElement {
  return h(
    'section',
    { class: 'card notice', 'aria-labelledby': 'created-title' },
    h('h2', { id: 'created-title', tabindex: -1 }, `Account "${account.friendly_name}" created`),
    h(
      'p',
      {},
      'Its auth token lets your backends validate desktop tokens (HTTP Basic: account SID and auth token). ',
      h('strong', {}, 'It is shown only now:'),
      ' store it in your secret manager.',
    ),
    copyable('auth token', account.auth_token, { testId: 'auth-token' }),
    h('p', {}, h('a', { class: 'button', href: `#/accounts/${account.sid}` }, 'Set up single sign-on for this account')),
  );
}
