import './styles.css';
import { api, useSession, type ConsoleSession } from './api.ts';
import { h, replace } from './dom.ts';
import { accountPage } from './views/account-page.ts';
import { accountsPage } from './views/accounts.ts';
import { signInPage } from './views/sign-in.ts';

const root = document.getElementById('app')!;

/** Hash routes: #/accounts and #/accounts/AC…; other fragments (the skip link) are not routes. */
function currentRoute(): { page: 'accounts' } | { page: 'account'; sid: string } {
  const match = /^#\/accounts\/(AC[0-9a-fA-F]{32})$/.exec(location.hash);
  return match ? { page: 'account', sid: match[1]! } : { page: 'accounts' };
}

function signedOut(message?: string): void {
  useSession('', () => undefined);
  replace(root, signInPage(signedIn, message));
}

function signedIn(session: ConsoleSession): void {
  useSession(session.csrf_token, () => signedOut('Your console session has ended. Sign in again.'));
  const main = h('main', { id: 'main', tabindex: -1 });
  const signOut = h('button', { type: 'button', class: 'secondary small' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    await api('DELETE', '/console/session').catch(() => undefined);
    history.replaceState(null, '', '#/accounts');
    signedOut('You have signed out.');
  });
  replace(
    root,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'brand', href: '#/accounts' }, 'Lanyard console'),
      h('nav', { 'aria-label': 'Main' }, h('a', { href: '#/accounts' }, 'Accounts')),
      h('p', { class: 'who' }, 'Admin key ', h('strong', {}, session.admin_key.name), h('span', { class: 'muted' }, ` (${session.admin_key.sid})`)),
      signOut,
    ),
    main,
  );
  const render = () => {
    const route = currentRoute();
    if (!/^#\/|^$/.test(location.hash)) return;
    const page = route.page === 'account' ? accountPage(route.sid) : accountsPage();
    replace(main, page);
    // A new page: move focus to its heading so keyboard and screen-reader users start there.
    main.querySelector<HTMLElement>('h1')?.focus();
  };
  window.onhashchange = render;
  render();
}

async function boot(): Promise<void> {
  try {
    signedIn(await api<ConsoleSession>('GET', '/console/session'));
  } catch {
    signedOut();
  }
}

void boot();
