import { admin, type OidcProvider } from '../api.ts';
import { copyable, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const SAML_INTRO =
  'Register Lanyard at your identity provider with these values, or give it the metadata file. Enhanced SSO and legacy SSO are two separate service providers: register the ones your desktops use.';
const OIDC_INTRO =
  "This account signs in through an OpenID Connect provider: register Lanyard's redirect URI with the client below at the provider. The SAML values (entity ID, ACS URL) do not apply.";

/**
 * The values to paste into the IdP: for SAML one SP for enhanced SSO and one for legacy SSO; for
 * an OpenID Connect provider the redirect URI to register there and the client it is registered for.
 */
export function serviceProviderSection(context: PageContext): Section {
  const body = h('div');
  const intro = h('span', {}, SAML_INTRO);
  const status = statusLine();
  const element = sectionCard('sp', 'Service provider values for your IdP', intro, body, status.element);
  return {
    id: 'sp',
    title: 'Service provider values',
    element,
    update({ account, connection }) {
      intro.textContent = connection?.oidc ? OIDC_INTRO : SAML_INTRO;
      if (connection?.oidc) return replace(body, oidcColumn(connection.oidc));
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

/** What the provider must know of Lanyard (the redirect URI) and what Lanyard holds of the provider (never the secret). */
function oidcColumn(oidc: OidcProvider): HTMLElement {
  return h(
    'div',
    { class: 'sp', 'data-testid': 'sp-oidc' },
    h('h3', {}, 'Enhanced SSO (OpenID Connect)'),
    h(
      'dl',
      {},
      h('dt', {}, 'Redirect URI (register it at the provider)'),
      h('dd', {}, copyable('redirect URI', oidc.redirect_uri, { testId: 'oidc-redirect-uri' })),
      h('dt', {}, "Provider's issuer"),
      h('dd', {}, h('code', { 'data-testid': 'oidc-issuer' }, oidc.issuer)),
      h('dt', {}, 'Client ID at the provider'),
      h('dd', {}, h('code', { 'data-testid': 'oidc-client-id' }, oidc.upstream_client_id)),
      h('dt', {}, 'Client secret'),
      h('dd', { 'data-testid': 'oidc-secret' }, oidc.client_secret_stored ? 'Stored (encrypted; never shown)' : 'None: a public client (PKCE only)'),
      h('dt', {}, 'Scopes'),
      h('dd', {}, h('code', {}, oidc.scopes)),
    ),
    h(
      'p',
      { class: 'help' },
      'Legacy SSO speaks SAML only, so it is not available with an OpenID Connect provider. To use it, switch the account to a SAML IdP with ',
      h('code', {}, 'lanyard sso set <AccountSid> --metadata-url <IdP metadata URL>'),
      ' (it replaces the OpenID Connect provider and its client secret).',
    ),
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
