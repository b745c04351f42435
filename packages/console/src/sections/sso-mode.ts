import { admin, ApiError, type SsoMode } from '../api.ts';
import { formatDate, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const MODES: { mode: SsoMode; label: string; help: string }[] = [
  { mode: 'legacy', label: 'Legacy', help: 'Only desktops without an oauth object; the token comes back on the URL.' },
  {
    mode: 'both',
    label: 'Both (migration)',
    help: 'Desktops of either kind sign in while you move them over. Users keep their user and worker SIDs.',
  },
  { mode: 'enhanced', label: 'Enhanced', help: 'Only OAuth 2.0 with PKCE (the oauth object). Recommended once every desktop has moved.' },
];

/** Migration state: legacy, both or enhanced, with the switch and its 30-day way back. */
export function ssoModeSection(context: PageContext): Section {
  const state = h('p', { 'data-testid': 'mode-state' });
  const radios = MODES.map(({ mode }) => h('input', { type: 'radio', name: 'sso-mode', value: mode, id: `mode-${mode}` }));
  const force = h('input', { type: 'checkbox', id: 'mode-force' });
  const forceBox = h(
    'div',
    { class: 'checkbox', hidden: true },
    force,
    h('label', { for: 'mode-force' }, 'Switch anyway: I checked that the IdP still trusts this service provider'),
  );
  const status = statusLine();
  const submit = h('button', { type: 'submit' }, 'Switch mode');
  const idpInitiated = h('input', { type: 'checkbox', id: 'idp-initiated' });
  const idpStatus = statusLine();

  const form = h(
    'form',
    { class: 'stack' },
    h(
      'fieldset',
      { class: 'choices' },
      h('legend', {}, 'SSO mode'),
      MODES.map(({ mode, label, help }, i) =>
        h('div', { class: 'choice' }, radios[i]!, h('label', { for: `mode-${mode}` }, h('strong', {}, label), ' — ', help)),
      ),
    ),
    forceBox,
    submit,
    status.element,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const mode = radios.find((r) => r.checked)?.value as SsoMode | undefined;
    if (!mode) return;
    submit.disabled = true;
    try {
      await admin('PUT', `/accounts/${context.accountSid}/mode`, { mode, force: force.checked || undefined });
      status.ok(`SSO mode is now ${mode}.`);
      forceBox.hidden = true;
      force.checked = false;
      await context.reload();
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) forceBox.hidden = false;
      status.error((error as Error).message);
    } finally {
      submit.disabled = false;
    }
  });
  idpInitiated.addEventListener('change', async () => {
    idpInitiated.disabled = true;
    try {
      await admin('PUT', `/accounts/${context.accountSid}/idp-initiated`, { enabled: idpInitiated.checked });
      idpStatus.ok(idpInitiated.checked ? 'IdP-initiated sign-in is on.' : 'IdP-initiated sign-in is off.');
      await context.reload();
    } catch (error) {
      idpInitiated.checked = !idpInitiated.checked;
      idpStatus.error((error as Error).message);
    } finally {
      idpInitiated.disabled = false;
    }
  });

  return {
    id: 'mode',
    title: 'SSO mode',
    element: sectionCard(
      'mode',
      'SSO mode (migration)',
      'Move an account from legacy to enhanced SSO through "both". Within 30 days you can switch back freely; after that, switching back needs a confirmation.',
      state,
      form,
      h('h3', {}, 'IdP-initiated sign-in (legacy)'),
      h(
        'div',
        { class: 'checkbox' },
        idpInitiated,
        h('label', { for: 'idp-initiated' }, 'Accept sign-ins started at the IdP (landing on the Default redirect URL)'),
      ),
      h(
        'p',
        { class: 'help' },
        'Off by default: an attacker could sign a victim in as the attacker (login CSRF). Turn it on only if your agents start from an IdP portal.',
      ),
      idpStatus.element,
    ),
    update({ account }) {
      for (const radio of radios) radio.checked = radio.value === account.sso_mode;
      idpInitiated.checked = account.idp_initiated_login;
      replace(
        state,
        'Current mode: ',
        h('strong', {}, account.sso_mode),
        account.previous_mode
          ? `. Switched from ${account.previous_mode} on ${formatDate(account.mode_changed_at)}; switching back without confirmation is possible until ${formatDate(account.mode_revert_deadline)}.`
          : '.',
      );
    },
  };
}
