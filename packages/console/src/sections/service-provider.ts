import { admin } from '../api.ts';
import { copyable, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

/** The values to paste into the IdP: one SP for enhanced SSO, one for legacy SSO. */
export function serviceProviderSection(context: PageContext): Section {
  const body = h('div');
  const status = statusLine();
  const element = sectionCard(
    'sp',
    'Service provider values for your IdP',
    'Register Lanyard at your identity provider with these values, or give it the metadata file. Enhanced SSO and legacy SSO are two separate service providers: register the ones your desktops use.',
    body,
    status.element,
  );
  return {
    id: 'sp',
    title: 'Service provider values',
    element,
    update({ account, connection }) {
      const legacy = account.legacy_service_provider;
      const enhanced = connection
        ? spColumn('Enhanced SSO', connection.service_provider, 'enhanced')
        : h(
            'div',
            { class: 'sp' },
            h('h3', {}, 'Enhanced SSO'),
            h('p', {}, "The enhanced service provider is named after the account's connection, which does not exist yet."),
            createConnectionButton(context, status),
          );
      replace(body, h('div', { class: 'columns' }, enhanced, spColumn('Legacy SSO', legacy, 'legacy')));
    },
  };
}

function spColumn(title: string, sp: { entity_id: string; acs_url: string; metadata_url: string }, kind: string): HTMLElement {
  return h(
    'div',
    { class: 'sp', 'data-testid': `sp-${kind}` },
    h('h3', {}, title),
    h(
      'dl',
      {},
      h('dt', {}, 'Entity ID (Audience)'),
      h('dd', {}, copyable(`${kind} entity ID`, sp.entity_id)),
      h('dt', {}, 'ACS URL (Reply URL)'),
      h('dd', {}, copyable(`${kind} ACS URL`, sp.acs_url)),
    ),
    h('p', {}, h('a', { href: sp.metadata_url, download: `lanyard-${kind}-sp-metadata.xml` }, `Download the SP metadata (${title})`)),
  );
}

function createConnectionButton(context: PageContext, status: ReturnType<typeof statusLine>): HTMLElement {
  const button = h('button', { type: 'button' }, 'Create the connection');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await admin('POST', `/accounts/${context.accountSid}/connections`);
      status.ok('Connection created.');
      await context.reload();
    } catch (error) {
      status.error((error as Error).message);
      button.disabled = false;
    }
  });
  return button;
}
