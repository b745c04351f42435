import { admin, type AttributeMapping } from '../api.ts';
import { field, h, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const FIELDS = [
  ['full_name', 'Full name (mandatory)'],
  ['email', 'E-mail (mandatory)'],
  ['roles', 'Roles (mandatory)'],
  ['image_url', 'Picture URL (optional)'],
] as const;

const WORDING = {
  saml: {
    intro:
      "Every agent needs full_name, email and at least one role in the IdP's assertion; a sign-in without one fails with error 45050. Tell Lanyard which attribute names your IdP uses.",
    names: 'SAML attribute names, tried in order, separated by commas.',
  },
  oidc: {
    intro:
      "Every agent needs full_name, email and at least one role in the provider's claims (ID token or userinfo); a sign-in without one fails with error 45050. Tell Lanyard which claim names your provider uses.",
    names: 'OpenID Connect claim names (dotted paths for nested claims, e.g. realm_access.roles), tried in order, separated by commas.',
  },
} as const;

const names = (value: string) =>
  value
    .split(/[\n,]/)
    .map((n) => n.trim())
    .filter(Boolean);

/** "cc-supervisors = supervisor" lines ⇄ {"cc-supervisors": "supervisor"}. */
function parseRoleValues(text: string): Record<string, string> | string {
  // Keys are typed by the administrator: no prototype, so "constructor" is just a key.
  const values = Object.create(null) as Record<string, string>;
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const match = /^(.+?)\s*=\s*(.+)$/.exec(line.trim());
    if (!match) return `Line ${index + 1}: write "IdP value = role", e.g. "cc-supervisors = supervisor".`;
    values[match[1]!] = match[2]!;
  }
  return values;
}

/** Which SAML attributes (or OpenID Connect claims) fill each profile field, and how IdP group values become roles. */
export function attributeMappingSection(context: PageContext): Section {
  const inputs = Object.fromEntries(FIELDS.map(([key]) => [key, h('input', { type: 'text', spellcheck: 'false', name: key })])) as Record<
    (typeof FIELDS)[number][0],
    HTMLInputElement
  >;
  // The names are SAML attribute names or OpenID Connect claim names, after the connection's protocol.
  const namesHelp = Object.fromEntries(FIELDS.map(([key]) => [key, h('span', {}, WORDING.saml.names)])) as Record<
    (typeof FIELDS)[number][0],
    HTMLSpanElement
  >;
  const intro = h('span', {}, WORDING.saml.intro);
  const roleValues = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'cc-supervisors = supervisor' });
  const status = statusLine();
  const submit = h('button', { type: 'submit' }, 'Save attribute mapping');
  let connectionSid: string | undefined;
  const form = h(
    'form',
    { class: 'stack' },
    h(
      'div',
      { class: 'grid-2' },
      FIELDS.map(([key, label]) => field(label, inputs[key], namesHelp[key])),
    ),
    field(
      'Role values',
      roleValues,
      'One per line: IdP value = Lanyard role (admin, supervisor or agent). Values neither listed nor recognised roles are dropped at sign-in (the test sign-in and the audit show them).',
    ),
    submit,
    status.element,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!connectionSid) return status.error('Set the identity provider first: the mapping belongs to its connection.');
    const parsed = parseRoleValues(roleValues.value);
    if (typeof parsed === 'string') return status.error(parsed);
    const body: Record<string, unknown> = { role_values: parsed };
    for (const [key] of FIELDS) body[key] = names(inputs[key].value);
    submit.disabled = true;
    try {
      await admin('PUT', `/connections/${connectionSid}/mapping`, body);
      status.ok('Attribute mapping saved.');
      await context.reload();
    } catch (error) {
      status.error((error as Error).message);
    } finally {
      submit.disabled = false;
    }
  });
  const declared = h('input', { type: 'text', spellcheck: 'false', name: 'declared_roles', placeholder: 'wfo.full_access, wfo.team_leader' });
  const declaredStatus = statusLine();
  const declaredSubmit = h('button', { type: 'submit' }, 'Save account roles');
  const declaredForm = h(
    'form',
    { class: 'stack' },
    field(
      'Account roles',
      declared,
      'Roles this account uses beside admin, supervisor and agent (for example Flex Insights wfo.* roles), separated by commas. A sign-in keeps only recognised or mapped role values.',
    ),
    declaredSubmit,
    declaredStatus.element,
  );
  declaredForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    declaredSubmit.disabled = true;
    try {
      await admin('PUT', `/accounts/${context.accountSid}/roles`, { roles: names(declared.value) });
      declaredStatus.ok('Account roles saved.');
      await context.reload();
    } catch (error) {
      declaredStatus.error((error as Error).message);
    } finally {
      declaredSubmit.disabled = false;
    }
  });
  return {
    id: 'mapping',
    title: 'Attributes and roles',
    element: sectionCard('mapping', 'Attributes and roles', intro, form, declaredForm),
    update({ connection, account }) {
      const wording = WORDING[connection?.oidc ? 'oidc' : 'saml'];
      intro.textContent = wording.intro;
      for (const [key] of FIELDS) namesHelp[key].textContent = wording.names;
      if (!declaredForm.contains(document.activeElement)) declared.value = (account.declared_roles ?? []).join(', ');
      connectionSid = connection?.sid;
      if (!connection || form.contains(document.activeElement)) return;
      const mapping: AttributeMapping = connection.mapping;
      for (const [key] of FIELDS) inputs[key].value = mapping[key].join(', ');
      roleValues.value = Object.entries(mapping.role_values)
        .map(([from, to]) => `${from} = ${to}`)
        .join('\n');
    },
  };
}
