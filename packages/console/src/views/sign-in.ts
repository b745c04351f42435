import { api, ApiError, type ConsoleSession } from '../api.ts';
import { field, h, statusLine } from '../dom.ts';

/**
 * The admin API key is sent once and exchanged for a session cookie the page cannot read; the
 * key is not stored in the browser (the field is cleared whatever the outcome).
 */
export function signInPage(onSignedIn: (session: ConsoleSession) => void, notice?: string): HTMLElement {
  const key = h('input', { type: 'password', name: 'admin_key', autocomplete: 'off', spellcheck: 'false', required: true });
  const status = statusLine();
  if (notice) status.ok(notice);
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: -1 }, 'Sign in to the Lanyard console'),
    field('Admin API key', key, [
      'Starts with ',
      h('code', {}, 'lk_'),
      '. Create one on the server with ',
      h('code', {}, 'npx lanyard admin-key create'),
      '.',
    ]),
    submit,
    status.element,
    h(
      'p',
      { class: 'help' },
      'The key is exchanged for a session cookie that scripts cannot read and that expires after 8 hours. It is not kept in this browser.',
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    status.ok('Signing in…');
    try {
      const session = await api<ConsoleSession>('POST', '/console/session', { admin_key: key.value.trim() });
      key.value = '';
      onSignedIn(session);
    } catch (error) {
      key.value = '';
      status.error(
        error instanceof ApiError && error.status === 401
          ? 'This admin API key is not valid: it is malformed, unknown or revoked. Keys belong to one database: create it with the same LANYARD_DATABASE_URL as this server (the demo started by npm start uses sqlite:.lanyard/demo.db).'
          : (error as Error).message,
      );
      key.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return h('main', { id: 'main' }, form);
}
