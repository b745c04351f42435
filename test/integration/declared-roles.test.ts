import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { cliSandbox, expectBadInput } from '../support/cli.ts';
import { exchangeCode, flexLogin, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * Issue 13, item 6: a sign-in carries only recognised roles (admin, supervisor, agent, the
 * account's declared roles) or mapped values. Entra-style group IDs are dropped and named in the
 * audit; a user with nothing recognised is refused naming what arrived.
 */

const GROUPS = Array.from({ length: 120 }, (_, i) => `${String(i).padStart(8, '0')}-1111-2222-3333-444444444444`);
const USERS = [
  { id: 'wfo@example.com', full_name: 'Wanda Insights', email: 'wfo@example.com', roles: ['agent', 'wfo.full_access', ...GROUPS.slice(0, 3)] },
  { id: 'groups@example.com', full_name: 'Only Groups', email: 'groups@example.com', roles: GROUPS },
];

describe.each(BACKENDS)('declared roles on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let adminKey: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard(backend);
    setup = await setupAccount(lanyard, idp);
    adminKey = (await lanyard.services.adminKeys.create('roles test')).secret;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  const signIn = async (user: string) => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, user);
    if (!login.code) return { error: login.callback.searchParams.get('error_description') ?? '' };
    const tokens = await exchangeCode(lanyard, setup.connection.sid, login);
    return { roles: (tokens.body.token_info as { roles: string[] }).roles };
  };

  it('drops undeclared values and names them in the audit; declared roles are kept', async () => {
    expect(await signIn('wfo@example.com')).toEqual({ roles: ['agent'] });
    const [event] = await lanyard.services.audit.recent(setup.account.sid, 1);
    expect(event).toMatchObject({ type: 'login.succeeded', reason: expect.stringMatching(/"wfo\.full_access", "00000000-1111/) });

    const declared = await api('PUT', `/accounts/${setup.account.sid}/roles`, { roles: ['WFO.Full_Access', 'wfo.team_leader'] });
    expect(declared).toMatchObject({ status: 200, body: { declared_roles: ['wfo.full_access', 'wfo.team_leader'] } });
    expect(await signIn('wfo@example.com')).toEqual({ roles: ['agent', 'wfo.full_access'] });
    expect(await api('PUT', `/accounts/${setup.account.sid}/roles`, { roles: ['bad role!'] })).toMatchObject({ status: 400 });
  });

  it('refuses a user with 120 group IDs and no recognised role, naming what arrived; a mapped group signs in', async () => {
    const refused = await signIn('groups@example.com');
    expect(refused).toMatchObject({ error: expect.stringMatching(/None of the roles.*"00000000-1111.*and 110 more/) });
    await api('PUT', `/connections/${setup.connection.sid}/mapping`, { role_values: { [GROUPS[7]!]: 'agent' } });
    expect(await signIn('groups@example.com')).toEqual({ roles: ['agent'] });
    const dry = await api('POST', `/connections/${setup.connection.sid}/mapping/dry-run`, {
      name_id: 'g@example.com',
      attributes: { name: 'G', email: 'g@example.com', roles: GROUPS.slice(5, 9) },
    });
    expect(dry.body).toMatchObject({ ok: true, profile: { roles: ['agent'] }, dropped_roles: [GROUPS[5], GROUPS[6], GROUPS[8]] });
  });
});

describe('lanyard roles set', () => {
  const { lanyard, json, cleanup } = cliSandbox();
  afterAll(cleanup);

  it('declares roles, clears them, and exits 2 for a malformed role', async () => {
    const created = await json('accounts', 'create', '--name', 'Roles');
    const sid = String(created.sid);
    expect(await json('roles', 'set', sid, 'wfo.full_access,wfo.team_leader')).toMatchObject({
      declared_roles: ['wfo.full_access', 'wfo.team_leader'],
    });
    expect(await json('roles', 'set', sid)).toMatchObject({ declared_roles: [] });
    expectBadInput(await lanyard('roles', 'set', sid, 'not a role'), /roles\.0/);
  }, 120_000);
});
