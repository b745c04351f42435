import { admin } from '../api.ts';
import { copyable, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

/** The desktop side: sign-in window default, the ready-to-copy appConfig.js, the lookup URL. */
export function desktopConfigSection(context: PageContext): Section {
  const popup = h('input', { type: 'checkbox', id: 'login-popup' });
  const popupStatus = statusLine();
  popup.addEventListener('change', async () => {
    popup.disabled = true;
    try {
      await admin('PUT', `/accounts/${context.accountSid}/login-popup`, { enabled: popup.checked });
      popupStatus.ok(popup.checked ? 'Desktops will sign in in a popup window.' : 'Desktops will sign in in the same page.');
      await context.reload();
    } catch (error) {
      popup.checked = !popup.checked;
      popupStatus.error((error as Error).message);
    } finally {
      popup.disabled = false;
    }
  });
  const snippets = h('div');
  const lookup = h('div');

  return {
    id: 'desktop',
    title: 'Desktop configuration',
    element: sectionCard(
      'desktop',
      'Desktop configuration (appConfig.js)',
      "Copy this into the desktop's public/assets/appConfig.js. The oauth object selects enhanced SSO; without it the desktop uses legacy SSO.",
      h('div', { class: 'checkbox' }, popup, h('label', { for: 'login-popup' }, 'Sign in in a popup window (', h('code', {}, 'sso.loginPopup'), ')')),
      h(
        'p',
        { class: 'help' },
        'Off: the desktop page itself goes to the IdP and comes back. On: a popup does, and the desktop page stays as it is.',
      ),
      popupStatus.element,
      snippets,
      h('h3', {}, 'Public lookup URL'),
      h('p', { class: 'help' }, "What desktops ask to find the account's connection (no authentication; unknown accounts get an empty list)."),
      lookup,
    ),
    update({ account, appConfig }) {
      popup.checked = account.login_popup;
      replace(
        snippets,
        appConfig.notes.map((note) => h('p', { class: 'status warn' }, note)),
        appConfig.enhanced
          ? [h('h3', {}, 'Enhanced SSO'), copyable('appConfig.js', appConfig.enhanced.script, { block: true, testId: 'app-config-enhanced' })]
          : null,
        appConfig.legacy
          ? [h('h3', {}, 'Legacy SSO'), copyable('legacy appConfig.js', appConfig.legacy.script, { block: true, testId: 'app-config-legacy' })]
          : null,
      );
      replace(
        lookup,
        copyable('lookup URL', appConfig.lookup_url, { testId: 'lookup-url' }),
        h('p', {}, h('a', { href: appConfig.lookup_url, target: '_blank', rel: 'noopener noreferrer' }, 'Open the lookup answer')),
      );
    },
  };
}
