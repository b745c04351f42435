import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { setupAccount } from '../support/flows.ts';
import { ACS_FLOWS, beginSignIn, genuineResponse, lastAuditReason, postToAcs, type AcsContext } from './support/acs.ts';

/**
 * Issue 13, item 5: outside input never indexes a plain object. Prototype member names
 * (`constructor`, `toString`, `__proto__`, `hasOwnProperty`, `valueOf`…) are fed as IdP role
 * values, as mapping attribute names, as role-value keys, as dry-run attributes, as SIDs and
 * client IDs in queries and as JSON keys. Each must be an ordinary (usually unknown) name: never
 * a 500, never `null`/`{}` in a token, never a role that passes the mandatory-roles check.
 */

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);
const protoName = fc.constantFrom(...PROTOTYPE_NAMES);
const mappable = PROTOTYPE_NAMES.filter((n) => n !== '__proto__'); // a JSON key __proto__ is refused (below)

let lanyard: TestLanyard;
let idp: DevIdp;
let ctx: AcsContext;
let adminKey: string;

const userOf = (kind: 'only' | 'mixed', name: string) => `${kind}-${name.replace(/_/g, 'u')}@example.com`;

beforeAll(async () => {
  const users = PROTOTYPE_NAMES.flatMap((name) => [
    { id: userOf('only', name), full_name: 'Proto Only', email: userOf('only', name), roles: [name] },
    { id: userOf('mixed', name), full_name: 'Proto Mixed', email: userOf('mixed', name), roles: [name, 'agent'] },
  ]);
  idp = await startDevIdp({ port: 0, users });
  lanyard = await startTestLanyard('sqlite', { rateLimitLoginPerMinute: 10_000, rateLimitAdminPerMinute: 10_000 });
  const setup = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setMode(setup.account.sid, 'both');
  ctx = { lanyard, accountSid: setup.account.sid, connectionSid: setup.connection.sid };
  adminKey = (await lanyard.services.adminKeys.create('prototype keys')).secret;
});
afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
});

async function admin(method: string, path: string, body?: unknown) {
  const response = await fetch(`${lanyard.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('prototype member names through sign-ins (property, both ACS endpoints)', () => {
  it('as role values, mapping attribute names and role-value keys: refused or dropped, never a role, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ACS_FLOWS),
        protoName,
        fc.constantFrom(...mappable),
        fc.constantFrom(...mappable),
        fc.constantFrom<'only' | 'mixed'>('only', 'mixed'),
        async (flow, roleValue, attributeName, roleValueKey, kind) => {
          const mapping = await admin('PUT', `/connections/${ctx.connectionSid}/mapping`, {
            roles: [attributeName, 'roles'],
            full_name: [attributeName, 'full_name'],
            role_values: { [roleValueKey]: 'supervisor' },
          });
          expect(mapping.status).toBe(200);
          const pending = await beginSignIn(ctx, flow);
          const outcome = await postToAcs(ctx, pending, await genuineResponse(idp, pending, userOf(kind, roleValue)));
          expect(outcome.status, outcome.reason).toBeLessThan(500);
          const mapped = roleValue === roleValueKey;
          if (kind === 'only' && !mapped) {
            expect(outcome.issued).toBe(false);
            expect(outcome.reason).toContain(`"${roleValue}"`);
            expect(await lastAuditReason(ctx)).toMatch(/None of the roles/);
          } else {
            expect(outcome.issued, outcome.reason).toBe(true);
            expect(outcome.roles).toEqual(mapped ? (kind === 'mixed' ? ['supervisor', 'agent'] : ['supervisor']) : ['agent']);
          }
        },
      ),
      { numRuns: 24 },
    );
  });
});

describe('prototype member names through the admin API and lookups', () => {
  it('dry-runs attributes and mappings named after prototype members without a 500 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.oneof(fc.constantFrom(...mappable), fc.constantFrom('name', 'email', 'roles')),
          fc.array(fc.oneof(protoName, fc.constant('agent')), { maxLength: 3 }),
        ),
        fc.constantFrom(...mappable),
        async (attributes, attributeName) => {
          expect((await admin('PUT', `/connections/${ctx.connectionSid}/mapping`, { roles: [attributeName, 'roles'], role_values: {} })).status).toBe(
            200,
          );
          const run = await admin('POST', `/connections/${ctx.connectionSid}/mapping/dry-run`, { name_id: 'ada@example.com', attributes });
          expect(run.status).toBe(200);
          if (run.body.ok) {
            const roles = (run.body.profile as { roles: unknown[] }).roles;
            expect(roles.length).toBeGreaterThan(0);
            for (const role of roles) expect(['admin', 'supervisor', 'agent']).toContain(role);
          } else {
            expect(run.body.error).toMatchObject({ code: 45050 });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses "__proto__" as a JSON key anywhere in a body with a 400 naming it', async () => {
    for (const body of ['{"roles":["roles"],"role_values":{"__proto__":"admin"}}', '{"__proto__":{"roles":["roles"]}}']) {
      expect(await admin('PUT', `/connections/${ctx.connectionSid}/mapping`, body)).toMatchObject({
        status: 400,
        body: { message: expect.stringContaining('__proto__') },
      });
    }
    const dryRun = await admin('POST', `/connections/${ctx.connectionSid}/mapping/dry-run`, '{"name_id":"a","attributes":{"__proto__":["admin"]}}');
    expect(dryRun).toMatchObject({ status: 400, body: { message: expect.stringContaining('__proto__') } });
    const token = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"__proto__":{"grant_type":"RefreshToken"}}',
    });
    expect(token.status).toBe(400);
  });

  it('answers SIDs, client IDs and connection names that are prototype member names with a 4xx', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const q = encodeURIComponent(name);
      for (const path of [
        `/v1/Flex/Authentication/Config?AccountSid=${q}`,
        `/v1/Flex/Authorize?ssoProfileSid=${q}&redirectUrl=x&state=s&codeChallenge=c`,
        `/login/metadata?connection=${q}`,
        `/oauth2/authorize?client_id=${q}&redirect_uri=https://x.example/cb&response_type=code`,
      ]) {
        const response = await fetch(`${lanyard.url}${path}`, { redirect: 'manual' });
        expect(response.status, `${path}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${path}`).toBeLessThan(500);
      }
      const token = await fetch(`${lanyard.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: name, client_id: name }),
      });
      expect(token.status, `token client_id=${name}`).toBeGreaterThanOrEqual(400);
      expect(token.status).toBeLessThan(500);
      expect((await admin('GET', `/accounts/${q}`)).status, `admin account ${name}`).toBe(400);
    }
  });
});
