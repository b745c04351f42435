import { admin } from '../api.ts';
import { field, h, replace, statusLine, uid } from '../dom.ts';
import { checkTrustedUrl, isBelowTrustedUrl } from '../validation.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

/**
 * A URL input checked on every keystroke against the server's own rules: the message names the
 * rule broken, the field is marked invalid for assistive technology, and saving waits for a fix.
 */
function checkedUrlInput(onChange: (valid: boolean) => void, extra: (value: string) => string | null = () => null) {
  const input = h('input', { type: 'text', inputmode: 'url', spellcheck: 'false', autocomplete: 'off', placeholder: 'https://desktop.example.com/' });
  const messageId = uid('rule');
  const message = h('p', { class: 'rule', id: messageId, 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', messageId);
  const check = () => {
    const value = input.value.trim();
    if (value === '') {
      input.removeAttribute('aria-invalid');
      message.className = 'rule';
      message.textContent = '';
      onChange(false);
      return;
    }
    const result = checkTrustedUrl(value);
    const problem = result.ok ? extra(result.canonical) : result.message;
    input.setAttribute('aria-invalid', String(!result.ok));
    message.className = result.ok ? (problem ? 'rule warn' : 'rule ok') : 'rule error';
    message.textContent = result.ok ? (problem ?? `Allowed: ${result.canonical}`) : result.message;
    onChange(result.ok);
  };
  input.addEventListener('input', check);
  return { input, message, check };
}

/** Trusted URLs (where desktops may be sent back) and the Default redirect URL. */
export function trustedUrlsSection(context: PageContext): Section {
  let trusted: string[] = [];
  const list = h('ul', { class: 'url-list', 'aria-label': 'Trusted URLs' });
  const addStatus = statusLine();
  const addButton = h('button', { type: 'submit', disabled: true }, 'Add Trusted URL');
  const add = checkedUrlInput(
    (valid) => (addButton.disabled = !valid),
    (canonical) => (trusted.includes(canonical) ? 'Already a Trusted URL.' : null),
  );
  const addForm = h('form', { class: 'inline-form' }, field('New Trusted URL', add.input), addButton, add.message, addStatus.element);
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const result = checkTrustedUrl(add.input.value);
    if (!result.ok) return add.check();
    addButton.disabled = true;
    try {
      await admin('POST', `/accounts/${context.accountSid}/trusted-urls`, { url: add.input.value.trim() });
      addStatus.ok(`Added ${result.canonical}.`);
      add.input.value = '';
      add.check();
      await context.reload();
    } catch (error) {
      addStatus.error((error as Error).message);
      addButton.disabled = false;
    }
  });

  const redirectStatus = statusLine();
  const redirectButton = h('button', { type: 'submit', disabled: true }, 'Save Default redirect URL');
  const redirect = checkedUrlInput(
    (valid) => (redirectButton.disabled = !valid),
    (canonical) =>
      !isBelowTrustedUrl(canonical, trusted) ? 'Not on or below a Trusted URL: add its Trusted URL above first, or saving is refused (70002).' : null,
  );
  const clearButton = h('button', { type: 'button', class: 'secondary' }, 'Clear');
  const redirectForm = h(
    'form',
    { class: 'inline-form' },
    field(
      'Default redirect URL',
      redirect.input,
      'Where sign-ins started at the IdP land, and the desktop address in the appConfig snippet. Enhanced SSO needs it.',
    ),
    redirectButton,
    clearButton,
    redirect.message,
    redirectStatus.element,
  );
  const saveRedirect = async (url: string | null) => {
    redirectButton.disabled = true;
    try {
      await admin('PUT', `/accounts/${context.accountSid}/redirect-url`, { url });
      redirectStatus.ok(url === null ? 'Default redirect URL cleared.' : `Default redirect URL set to ${url}.`);
      await context.reload();
    } catch (error) {
      redirectStatus.error((error as Error).message);
    } finally {
      redirect.check();
    }
  };
  redirectForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (checkTrustedUrl(redirect.input.value).ok) void saveRedirect(redirect.input.value.trim());
    else redirect.check();
  });
  clearButton.addEventListener('click', () => void saveRedirect(null));

  const element = sectionCard(
    'urls',
    'Trusted URLs and Default redirect URL',
    [
      'Desktops are sent back only to a Trusted URL or a page below it. Allowed: ',
      h('code', {}, 'https://host[:port][/path]'),
      '; ',
      h('code', {}, 'http://'),
      ' only for localhost, 127.0.0.1 and [::1]; no wildcards, user names, fragments or query strings.',
    ],
    h('h3', {}, 'Trusted URLs'),
    list,
    addForm,
    redirectForm,
  );

  return {
    id: 'urls',
    title: 'Trusted URLs',
    element,
    update({ account }) {
      trusted = account.trusted_urls;
      replace(
        list,
        trusted.length === 0
          ? h('li', { class: 'muted' }, 'No Trusted URLs yet.')
          : trusted.map((url) => {
              const remove = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Remove ${url}` }, 'Remove');
              remove.addEventListener('click', async () => {
                remove.disabled = true;
                try {
                  await admin('DELETE', `/accounts/${context.accountSid}/trusted-urls?url=${encodeURIComponent(url)}`);
                  addStatus.ok(`Removed ${url}.`);
                  await context.reload();
                } catch (error) {
                  addStatus.error((error as Error).message);
                  remove.disabled = false;
                }
              });
              return h('li', {}, h('code', {}, url), remove);
            }),
      );
      if (document.activeElement !== redirect.input) redirect.input.value = account.default_redirect_url ?? '';
      redirect.check();
    },
  };
}
