import { admin, type Account, type AppConfig } from '../api.ts';
import { h, replace } from '../dom.ts';
import { attributeMappingSection } from '../sections/attribute-mapping.ts';
import { auditSection } from '../sections/audit.ts';
import { desktopConfigSection } from '../sections/desktop-config.ts';
import { identityProviderSection } from '../sections/identity-provider.ts';
import { oidcClientsSection } from '../sections/oidc-clients.ts';
import type { AccountState, PageContext, Section } from '../sections/section.ts';
import { serviceProviderSection } from '../sections/service-provider.ts';
import { ssoModeSection } from '../sections/sso-mode.ts';
import { testSignInSection } from '../sections/test-sign-in.ts';
import { trustedUrlsSection } from '../sections/trusted-urls.ts';

/** Readiness items name a CLI command for terminal users; the console has the form right here. */
const withoutCliHint = (item: string) => item.replace(/\s*\(lanyard [^)]*\)/g, '');

/** The "Single sign-on setup" page of one account: the whole journey, top to bottom. */
export function accountPage(accountSid: string): HTMLElement {
  const title = h('h1', { tabindex: -1 }, 'Single sign-on setup');
  const subtitle = h('p', { class: 'lead' }, 'Loading the account…');
  const readiness = h('div', { class: 'readiness', 'aria-live': 'polite' });
  const context: PageContext = { accountSid, reload, refreshAudit: () => audit.refresh() };
  const audit = auditSection(context);
  const sections: Section[] = [
    serviceProviderSection(context),
    identityProviderSection(context),
    trustedUrlsSection(context),
    attributeMappingSection(context),
    testSignInSection(context),
    desktopConfigSection(context),
    ssoModeSection(context),
    oidcClientsSection(context),
    audit,
  ];

  const jump = h(
    'nav',
    { class: 'jump', 'aria-label': 'Sections of this page' },
    h(
      'ul',
      {},
      sections.map((section) => {
        const link = h('button', { type: 'button', class: 'link' }, section.title);
        link.addEventListener('click', () => {
          const heading = document.getElementById(`${section.id}-title`);
          heading?.scrollIntoView({ block: 'start' });
          heading?.focus();
        });
        return h('li', {}, link);
      }),
    ),
  );
  const body = h(
    'div',
    { class: 'sections' },
    sections.map((s) => s.element),
  );
  body.hidden = true;

  async function reload(): Promise<void> {
    try {
      const [account, appConfig] = await Promise.all([
        admin<Account>('GET', `/accounts/${accountSid}`),
        admin<AppConfig>('GET', `/accounts/${accountSid}/app-config`),
      ]);
      const state: AccountState = { account, connection: account.connections[0], appConfig };
      replace(subtitle, h('strong', {}, account.friendly_name), ' · account ', h('code', {}, account.sid));
      replace(readiness, readinessView(account));
      for (const section of sections) section.update(state);
      body.hidden = false;
    } catch (error) {
      replace(subtitle, h('span', { class: 'status error', role: 'alert' }, (error as Error).message));
    }
  }

  void reload();
  return h('div', { class: 'page' }, h('p', {}, h('a', { href: '#/accounts' }, '← All accounts')), title, subtitle, readiness, jump, body);
}

function readinessView(account: Account): HTMLElement {
  const item = (name: string, r: { ready: boolean; missing: string[] }, relevant: boolean) =>
    h(
      'div',
      { class: `ready ${r.ready ? 'yes' : 'no'}`, 'data-testid': `ready-${name.toLowerCase().split(' ')[0]}` },
      h('h2', {}, `${name}: ${r.ready ? 'ready' : relevant ? 'not ready' : 'off'}`),
      r.ready
        ? null
        : h(
            'ul',
            {},
            r.missing.map((m) => h('li', {}, withoutCliHint(m))),
          ),
    );
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'columns' },
      item('Enhanced SSO', account.setup.enhanced, account.sso_mode !== 'legacy'),
      item('Legacy SSO', account.setup.legacy, account.sso_mode !== 'enhanced'),
    ),
    account.setup.warnings.map((w) => h('p', { class: 'status warn', role: 'note' }, w)),
  );
}
