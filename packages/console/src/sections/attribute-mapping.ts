import { admin, type AttributeMapping } from '../api.ts';
import { field, h, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

const FIELDS = [
  ['full_name', 'Full name (mandatory)'],
  ['email', 'E-mail (mandatory)'],
  ['roles', 'Roles (mandatory)'],
  ['image_url', 'Picture URL (optional)'],
] as const;

const names = (value: string) =>
  value
    .split(/[\n,]/)
    .map((n) => n.trim())
    .filter(Boolean);

/** "cc-supervisors = supervisor" lines ⇄ {"cc-supervisors": "supervisor"}. */
function parseRoleValues(text: string): Record<string, string> | string {
  const values: Record<string, string> = {};
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const match = /^(.+?)\s*=\s*(.+)$/.exec(line.trim());
    if (!match) return `Line ${index + 1}: write "IdP value = role", e.g. "cc-supervisors = supervisor".`;
    values[match[1]!] = match[2]!;
  }
  return values;
}

/** Which SAML attributes fill each profile field, and how IdP group values become roles. */
export function attributeMappingSection(context: PageContext): Section {
  const inputs = Object.fromEntries(FIELDS.map(([key]) => [key, h('input', { type: 'text', spellcheck: 'false', name: key })])) as Record<
    (typeof FIELDS)[number][0],
    HTMLInputElement
  >;
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
      FIELDS.map(([key, label]) => field(label, inputs[key], 'SAML attribute names, tried in order, separated by commas.')),
    ),
    field(
      'Role values',
      roleValues,
      'One per line: IdP value = Lanyard role (admin, supervisor or agent). Values not listed are used as they are, in lower case.',
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
  return {
    id: 'mapping',
    title: 'Attributes and roles',
    element: sectionCard(
      'mapping',
      'Attributes and roles',
      "Every agent needs full_name, email and at least one role in the IdP's assertion; a sign-in without one fails with error 45050. Tell Lanyard which attribute names your IdP uses.",
      form,
    ),
    update({ connection }) {
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
