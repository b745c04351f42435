import { admin, type Certificate, type Connection } from '../api.ts';
import { field, formatDate, h, replace, statusLine, uid } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const SAML_INTRO = "Where agents sign in: import the IdP's SAML metadata, or enter its issuer, SSO URL and signing certificate.";
const OIDC_INTRO = 'Where agents sign in: an OpenID Connect provider. Its redirect URI is under "Service provider values for your IdP".';

/** Matches the server's warning threshold (admin/setup-report.ts). */
const WARNING_DAYS = 30;
type Source = 'xml' | 'url' | 'fields';

/**
 * The IdP: its current settings (SAML certificates, or the OpenID Connect provider's client), and a
 * form to import SAML metadata or enter fields, folded away behind "switch to SAML" for an OpenID
 * Connect connection.
 */
export function identityProviderSection(context: PageContext): Section {
  const current = h('div');
  const status = statusLine();
  const name = uid('idp-source');
  const radios = (['xml', 'url', 'fields'] as const).map((value) =>
    h('input', { type: 'radio', name, value, id: `${name}-${value}`, checked: value === 'xml' }),
  );
  const labels: Record<Source, string> = {
    xml: 'Paste or upload metadata XML',
    url: 'Metadata URL (refreshed on a schedule)',
    fields: 'Enter the fields',
  };
  const chooser = h(
    'fieldset',
    { class: 'choices' },
    h('legend', {}, 'How to enter the IdP settings'),
    radios.map((radio) => h('div', { class: 'choice' }, radio, h('label', { for: radio.id }, labels[radio.value as Source]))),
  );

  const xml = h('textarea', { rows: 6, spellcheck: 'false', placeholder: '<md:EntityDescriptor …>' });
  const file = h('input', { type: 'file', accept: '.xml,application/xml,text/xml,application/samlmetadata+xml' });
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (chosen) xml.value = await chosen.text();
  });
  const url = h('input', { type: 'url', placeholder: 'https://idp.example.com/metadata', spellcheck: 'false' });
  const issuer = h('input', { type: 'text', spellcheck: 'false', placeholder: 'https://idp.example.com/metadata' });
  const ssoUrl = h('input', { type: 'url', spellcheck: 'false', placeholder: 'https://idp.example.com/sso' });
  const certificate = h('textarea', { rows: 6, spellcheck: 'false', placeholder: '-----BEGIN CERTIFICATE-----' });
  const skew = h('input', { type: 'number', min: 0, max: 600, step: 1, value: 120, inputmode: 'numeric' });
  // Federation metadata holds many IdPs: the picker appears when the server asks for a choice.
  const entity = h('select', {});
  const entityField = field(
    'Identity provider in the metadata',
    entity,
    'The metadata describes several identity providers (federation metadata): choose yours.',
  );
  entityField.hidden = true;

  const panels: Record<Source, HTMLElement> = {
    xml: h('div', { class: 'panel' }, field('IdP metadata XML', xml), field('Or choose a metadata file', file)),
    url: h(
      'div',
      { class: 'panel', hidden: true },
      field('IdP metadata URL', url, 'Lanyard fetches it now and again on a schedule, so certificate rollovers are picked up.'),
    ),
    fields: h(
      'div',
      { class: 'panel', hidden: true },
      field('Issuer (IdP entity ID)', issuer),
      field('SSO URL (HTTP-Redirect binding)', ssoUrl),
      field('X.509 signing certificate (PEM)', certificate, 'Paste the whole block, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.'),
    ),
  };
  const selected = (): Source => (radios.find((r) => r.checked)?.value as Source) ?? 'xml';
  for (const radio of radios) radio.addEventListener('change', () => Object.entries(panels).forEach(([k, p]) => (p.hidden = k !== selected())));

  const submit = h('button', { type: 'submit' }, 'Save IdP settings');
  const form = h(
    'form',
    { class: 'stack' },
    chooser,
    Object.values(panels),
    entityField,
    field('Allowed clock skew (seconds)', skew, "Tolerance for the IdP's clock in SAML time checks; 120 unless your IdP needs more."),
    submit,
    status.element,
  );
  const offerEntities = async (metadata: Record<string, unknown>) => {
    try {
      const { entity_ids } = await admin<{ entity_ids: string[] }>('POST', `/accounts/${context.accountSid}/sso/entities`, metadata);
      replace(entity, ...entity_ids.map((id) => h('option', { value: id }, id)));
      entityField.hidden = entity_ids.length === 0;
    } catch {
      // The save's own error already says what is wrong with the metadata.
    }
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const source = selected();
    const body: Record<string, unknown> = { clock_skew_seconds: Number(skew.value || 120) };
    if (source === 'xml') body.metadata_xml = xml.value.trim();
    if (source === 'url') body.metadata_url = url.value.trim();
    if (source !== 'fields' && !entityField.hidden && entity.value) body.entity_id = entity.value;
    if (source === 'fields')
      Object.assign(body, { issuer: issuer.value.trim(), sso_url: ssoUrl.value.trim(), certificate: certificate.value.trim() });
    submit.disabled = true;
    status.ok('Saving the IdP settings…');
    try {
      const connection = await admin<Connection>('PUT', `/accounts/${context.accountSid}/sso`, body);
      status.ok(`IdP settings saved: issuer ${connection.issuer}, ${connection.certificates.length} certificate(s).`);
      xml.value = '';
      entityField.hidden = true;
      await context.reload();
    } catch (error) {
      status.error((error as Error).message);
      if (source !== 'fields' && /choose one by its entity ID|no identity provider with entity ID/.test((error as Error).message)) {
        await offerEntities(source === 'xml' ? { metadata_xml: body.metadata_xml } : { metadata_url: body.metadata_url });
      }
    } finally {
      submit.disabled = false;
    }
  });

  // For an OpenID Connect connection the SAML form folds away: saving it replaces the provider,
  // which an administrator does on purpose, not by filling in the first form on the page.
  const formHolder = h('div', {}, form);
  const switchToSaml = h(
    'details',
    { class: 'switch-protocol', 'data-testid': 'switch-to-saml' },
    h('summary', {}, 'Switch to a SAML identity provider instead'),
    h(
      'p',
      { class: 'status warn', role: 'note' },
      'Saving SAML settings here replaces the OpenID Connect provider: sign-ins go to the SAML IdP from then on.',
    ),
  );
  const intro = h('span', {}, SAML_INTRO);
  return {
    id: 'idp',
    title: 'Identity provider',
    element: sectionCard('idp', 'Identity provider', intro, current, formHolder),
    update({ connection }) {
      replace(current, currentSettings(connection));
      const oidc = Boolean(connection?.oidc);
      intro.textContent = oidc ? OIDC_INTRO : SAML_INTRO;
      if (oidc && form.parentElement !== switchToSaml) {
        switchToSaml.open = false;
        switchToSaml.append(form);
        replace(formHolder, switchToSaml);
      } else if (!oidc && form.parentElement !== formHolder) {
        replace(formHolder, form);
      }
    },
  };
}

function currentSettings(connection: Connection | undefined): HTMLElement {
  if (connection?.oidc) {
    const oidc = connection.oidc;
    return h(
      'div',
      { 'data-testid': 'idp-current' },
      h(
        'p',
        { class: 'status ok' },
        'This account signs in through an OpenID Connect provider, managed with ',
        h('code', {}, 'lanyard sso set-oidc'),
        ' or the admin API (PUT /admin/v1/accounts/{sid}/oidc).',
      ),
      h(
        'dl',
        { class: 'pairs' },
        h('dt', {}, 'Issuer'),
        h('dd', {}, h('code', {}, oidc.issuer)),
        h('dt', {}, 'Client ID at the provider'),
        h('dd', {}, h('code', {}, oidc.upstream_client_id)),
        h('dt', {}, 'Client secret'),
        h('dd', {}, oidc.client_secret_stored ? 'Stored (encrypted)' : 'None (public client, PKCE only)'),
        h('dt', {}, 'Scopes'),
        h('dd', {}, h('code', {}, oidc.scopes)),
      ),
    );
  }
  if (!connection?.issuer) return h('p', { class: 'status warn', 'data-testid': 'idp-current' }, 'No identity provider is set yet.');
  return h(
    'div',
    { 'data-testid': 'idp-current' },
    h(
      'dl',
      { class: 'pairs' },
      h('dt', {}, 'Issuer'),
      h('dd', {}, h('code', {}, connection.issuer)),
      h('dt', {}, 'SSO URL'),
      h('dd', {}, h('code', {}, connection.sso_url ?? '—')),
      connection.metadata_url ? [h('dt', {}, 'Metadata URL'), h('dd', {}, h('code', {}, connection.metadata_url))] : null,
      h('dt', {}, 'Clock skew'),
      h('dd', {}, `${connection.clock_skew_seconds ?? 120} seconds`),
    ),
    h(
      'h3',
      {},
      connection.certificates.length === 1 ? 'Signing certificate' : `Signing certificates (${connection.certificates.length}, any may sign)`,
    ),
    h('ul', { class: 'certificates' }, connection.certificates.map(certificateCard)),
  );
}

function certificateCard(certificate: Certificate): HTMLElement {
  const expired = certificate.days_left < 0;
  const soon = !expired && certificate.days_left < WARNING_DAYS;
  const warning = expired
    ? `Expired on ${formatDate(certificate.valid_to)}: sign-ins fail (error 45010) until the IdP's current certificate is imported.`
    : soon
      ? `Expires in ${certificate.days_left} day${certificate.days_left === 1 ? '' : 's'} (${formatDate(certificate.valid_to)}): import the IdP's next certificate before then (old and new can be valid together).`
      : null;
  return h(
    'li',
    { class: `certificate${expired ? ' expired' : soon ? ' expiring' : ''}`, 'data-testid': 'certificate' },
    h(
      'dl',
      { class: 'pairs' },
      h('dt', {}, 'Subject'),
      h('dd', {}, certificate.subject),
      h('dt', {}, 'Issued by'),
      h('dd', {}, certificate.issuer),
      h('dt', {}, 'Valid'),
      h('dd', {}, `${formatDate(certificate.valid_from)} to ${formatDate(certificate.valid_to)}`),
      h('dt', {}, 'Expires in'),
      h('dd', { 'data-testid': 'certificate-days' }, expired ? 'expired' : `${certificate.days_left} days`),
      h('dt', {}, 'SHA-256 fingerprint'),
      h('dd', {}, h('code', { class: 'wrap' }, certificate.fingerprint_sha256)),
    ),
    warning ? h('p', { class: `status ${expired ? 'error' : 'warn'}`, role: 'note' }, warning) : null,
  );
}
