import { admin, type Client } from '../api.ts';
import { copyable, field, formatDate, h, replace, statusLine } from '../dom.ts';
import { sectionCard, type PageContext, type Section } from './section.ts';

/** A client as the admin API returns it (`/admin/v1/accounts/{sid}/clients`); its secret only when just issued. */
type OidcClient = Client & { client_secret?: string };

const METHODS: Array<[OidcClient['token_endpoint_auth_method'], string]> = [
  ['client_secret_basic', 'Server-side web app, secret in the Authorization header (client_secret_basic)'],
  ['client_secret_post', 'Server-side web app, secret in the form body (client_secret_post)'],
  ['private_key_jwt', 'Server-side web app, signed assertion with its own key (private_key_jwt)'],
  ['none', 'Single-page or native app: public, PKCE only (none)'],
];
const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/**
 * OpenID Connect clients of the standard surface: register one with its exact redirect URIs,
 * see its secret once, rotate it with a rollover, change redirect URIs, delete it; and the
 * redirect URIs of the connection's built-in client.
 */
export function oidcClientsSection(context: PageContext): Section {
  const list = h('div', { class: 'client-list' });
  const secretBox = h('div', { class: 'secret-once', 'aria-live': 'polite' });
  const status = statusLine();

  const name = h('input', { type: 'text', autocomplete: 'off', placeholder: 'Supervisor portal' });
  const method = h('select', {}, ...METHODS.map(([value, label]) => h('option', { value }, label)));
  const redirectUris = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'https://portal.example.com/callback' });
  const jwks = h('textarea', { rows: 4, spellcheck: 'false', placeholder: '{"keys": [{"kty": "EC", …}]}' });
  const jwksField = field('Public keys (JWK Set)', jwks, 'Only for private_key_jwt: the public keys the app signs its assertions with.');
  const alg = h('select', {}, h('option', { value: 'RS256' }, 'RS256 (every library accepts it)'), h('option', { value: 'ES256' }, 'ES256'));
  const showJwks = () => (jwksField.hidden = method.value !== 'private_key_jwt');
  method.addEventListener('change', showJwks);
  showJwks();
  const register = h('button', { type: 'submit' }, 'Register client');
  const form = h(
    'form',
    { class: 'stacked-form' },
    field('Name', name),
    field('Kind of app', method),
    field(
      'Redirect URIs',
      redirectUris,
      'One per line, matched exactly. Native apps may use a private-use scheme such as com.example.app:/callback.',
    ),
    jwksField,
    field('ID token signature', alg),
    register,
  );

  const showSecret = (client: OidcClient) => {
    if (!client.client_secret) return replace(secretBox);
    replace(
      secretBox,
      h('p', { role: 'alert' }, `Secret of ${client.name}: copy it now. It is shown only this once; Lanyard keeps only a hash.`),
      copyable('client secret', client.client_secret, { testId: 'client-secret' }),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    register.disabled = true;
    try {
      let keys: unknown;
      if (method.value === 'private_key_jwt') {
        try {
          keys = JSON.parse(jwks.value);
        } catch {
          throw new Error('Public keys: paste a JSON Web Key Set, {"keys": [...]}.');
        }
      }
      const client = await admin<OidcClient>('POST', `/accounts/${context.accountSid}/clients`, {
        ...(name.value.trim() ? { name: name.value.trim() } : {}),
        token_endpoint_auth_method: method.value,
        redirect_uris: lines(redirectUris.value),
        ...(keys ? { jwks: keys } : {}),
        id_token_signed_response_alg: alg.value,
      });
      status.ok(`Registered ${client.name}: client_id ${client.client_id}.`);
      showSecret(client);
      name.value = '';
      redirectUris.value = '';
      jwks.value = '';
      await refresh();
    } catch (error) {
      status.error((error as Error).message);
    } finally {
      register.disabled = false;
    }
  });

  /**
   * A connection's built-in client (public, PKCE) is what relying parties use without a client of
   * their own: only its redirect URIs can change, through the same endpoint.
   */
  const clientCard = (client: OidcClient, builtIn = false) => {
    const rotate = h('button', { type: 'button', class: 'secondary small' }, 'Rotate secret');
    const remove = h('button', { type: 'button', class: 'secondary small' }, 'Delete client');
    const uris = h('textarea', { rows: Math.max(2, client.redirect_uris.length), spellcheck: 'false' });
    uris.value = client.redirect_uris.join('\n');
    const saveUris = h('button', { type: 'button', class: 'secondary small' }, 'Save redirect URIs');
    const act = (button: HTMLButtonElement, work: () => Promise<void>) =>
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await work();
          await refresh();
        } catch (error) {
          status.error((error as Error).message);
        } finally {
          button.disabled = false;
        }
      });
    act(rotate, async () => {
      const rotated = await admin<OidcClient>('POST', `/clients/${client.client_id}/secrets`);
      status.ok(`New secret for ${client.name}; the previous one keeps working for 7 days.`);
      showSecret(rotated);
    });
    act(saveUris, async () => {
      await admin('PATCH', `/clients/${client.client_id}`, { redirect_uris: lines(uris.value) });
      status.ok(`Redirect URIs of ${client.name} saved.`);
    });
    act(remove, async () => {
      if (!window.confirm(`Delete ${client.name}? Apps using ${client.client_id} stop signing in.`)) return;
      await admin('DELETE', `/clients/${client.client_id}`);
      status.ok(`Deleted ${client.name}.`);
    });
    const secrets = client.secrets.map((s) => {
      const revoke = h('button', { type: 'button', class: 'secondary small', 'aria-label': `End secret ${s.id} now` }, 'End now');
      act(revoke, async () => {
        await admin('DELETE', `/clients/${client.client_id}/secrets/${s.id}`);
        status.ok(`Secret ${s.id} of ${client.name} ended.`);
      });
      return h(
        'li',
        {},
        `Secret ${s.id}, created ${formatDate(s.created_at)}`,
        s.expires_at ? [`, stops working ${formatDate(s.expires_at)} `, revoke] : ' (current)',
      );
    });
    return h(
      'article',
      { class: 'client', 'aria-label': client.name },
      h('h3', {}, client.name),
      copyable('client ID', client.client_id),
      h(
        'p',
        { class: 'muted' },
        builtIn
          ? `Public (PKCE); ID tokens ${client.id_token_signed_response_alg}. Used by apps that sign in with this client ID instead of a registered client.`
          : `${client.token_endpoint_auth_method}; ID tokens ${client.id_token_signed_response_alg}`,
      ),
      field(`Redirect URIs of ${client.name}`, uris, 'One per line, matched exactly.'),
      saveUris,
      secrets.length ? h('ul', {}, secrets) : null,
      builtIn ? null : h('div', { class: 'actions' }, client.secrets.length ? rotate : null, remove),
    );
  };

  let builtInClientId: string | undefined;
  async function refresh(): Promise<void> {
    try {
      const [{ clients }, builtIn] = await Promise.all([
        admin<{ clients: OidcClient[] }>('GET', `/accounts/${context.accountSid}/clients`),
        builtInClientId ? admin<OidcClient>('GET', `/clients/${builtInClientId}`) : undefined,
      ]);
      replace(
        list,
        builtIn ? clientCard({ ...builtIn, name: 'Built-in client' }, true) : null,
        clients.length === 0 ? h('p', { class: 'muted' }, 'No registered OpenID Connect clients yet.') : clients.map((c) => clientCard(c)),
      );
    } catch (error) {
      status.error((error as Error).message);
    }
  }

  const element = sectionCard(
    'clients',
    'OpenID Connect clients',
    [
      'Apps that sign users in through the standard OpenID Connect endpoints (discovery at ',
      h('code', {}, '/.well-known/openid-configuration'),
      '). Each has exact redirect URIs; server-side apps authenticate with a secret or a key. Trusted URLs do not apply here.',
    ],
    list,
    secretBox,
    status.element,
    h('h3', {}, 'Register a client'),
    form,
  );
  return {
    id: 'clients',
    title: 'OpenID Connect clients',
    element,
    update({ connection }) {
      register.disabled = connection === undefined;
      builtInClientId = connection?.client_id;
      // Not an alert: a new account simply has nothing to show here yet.
      if (connection === undefined)
        replace(list, h('p', { class: 'muted' }, 'Set up the identity provider first: clients sign users in through it.'));
      else void refresh();
    },
  };
}
