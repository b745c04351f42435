import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials, startDevIdp, type DevIdp, type SigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { setupAccount } from '../support/flows.ts';
import { ACS_FLOWS, beginSignIn, genuineResponse, lastAuditReason, postToAcs, type AcsContext, type AcsFlow } from './support/acs.ts';
import { decodeXml, encodeXml } from './support/saml-messages.ts';
import { EXTRA_PLACEMENTS, SIGNATURE_STATES, buildVariant, expectedOutcome, type StatusVariant, type Variant } from './support/message-variants.ts';

/**
 * The SAML message policy as a table (issue 13, items 1–3, and issue 14's signed-Response case):
 * a top-level Success status; every signature present verifies with the configured certificate;
 * at least one of Response and assertion is signed; exactly one assertion in the whole tree, a
 * direct child of the Response. Each variant is built from a genuine response of the development
 * IdP to a real AuthnRequest and posted to both ACS endpoints; `expectedOutcome` states the
 * policy, independently of the server's code, and the test compares.
 */

const VICTIM = 'ada@example.com';
const ATTACKER = 'mallory@example.com';
const USERS = [
  { id: VICTIM, full_name: 'Ada Lovelace', email: VICTIM, roles: ['admin', 'agent'] },
  { id: ATTACKER, full_name: 'Mallory', email: ATTACKER, roles: ['agent'] },
];

let lanyard: TestLanyard;
let idp: DevIdp;
let key: SigningCredentials;
let foreignKey: SigningCredentials;
let ctx: AcsContext;

beforeAll(async () => {
  key = await generateSigningCredentials('Contoso IdP');
  foreignKey = await generateSigningCredentials('Attacker IdP');
  idp = await startDevIdp({ port: 0, users: USERS, credentials: key });
  lanyard = await startTestLanyard('sqlite', { rateLimitLoginPerMinute: 10_000 });
  const setup = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setMode(setup.account.sid, 'both');
  ctx = { lanyard, accountSid: setup.account.sid, connectionSid: setup.connection.sid };
});
afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
});

const SIGNED_SHAPES: Array<Pick<Variant, 'response' | 'assertion'>> = [
  { response: 'valid', assertion: 'valid' },
  { response: 'absent', assertion: 'valid' },
  { response: 'valid', assertion: 'absent' },
];
const NON_SUCCESS: StatusVariant[] = ['Responder/AuthnFailed', 'Requester/RequestDenied', 'Responder (no message)'];

const VARIANTS: Variant[] = [
  ...SIGNATURE_STATES.flatMap((response) =>
    SIGNATURE_STATES.map((assertion) => ({ status: 'Success' as const, response, assertion, placement: 'one' as const })),
  ),
  ...NON_SUCCESS.flatMap((status) => SIGNED_SHAPES.map((shape) => ({ status, ...shape, placement: 'one' as const }))),
  ...EXTRA_PLACEMENTS.flatMap((placement) => SIGNED_SHAPES.map((shape) => ({ status: 'Success' as const, ...shape, placement }))),
];
const title = (v: Variant) => `status ${v.status}, Response ${v.response}, Assertion ${v.assertion}, assertions: ${v.placement}`;

it('the table holds every signature combination, the refusals and enough acceptances to bite', () => {
  expect(VARIANTS).toHaveLength(16 + 9 + 27);
  const accepted = VARIANTS.filter((v) => expectedOutcome(v).accepted);
  // valid/valid, absent/valid, valid/absent with Success and one assertion: the three IdP defaults.
  expect(accepted.map(title)).toEqual([
    title({ status: 'Success', response: 'valid', assertion: 'valid', placement: 'one' }),
    title({ status: 'Success', response: 'valid', assertion: 'absent', placement: 'one' }),
    title({ status: 'Success', response: 'absent', assertion: 'valid', placement: 'one' }),
  ]);
});

describe.each(ACS_FLOWS)('SAML message policy at the %s ACS', (flow: AcsFlow) => {
  it.each(VARIANTS.map((v) => [title(v), v] as const))('%s', async (_title, variant) => {
    const pending = await beginSignIn(ctx, flow);
    const genuine = decodeXml(await genuineResponse(idp, pending, ATTACKER));
    const message = buildVariant(genuine, variant, { key, foreignKey }, VICTIM);
    const outcome = await postToAcs(ctx, pending, encodeXml(message));
    const expected = expectedOutcome(variant);
    if (expected.accepted) {
      expect(outcome, outcome.reason).toMatchObject({ issued: true, signedInAs: ATTACKER });
      return;
    }
    expect(outcome.issued, `signed in as ${outcome.signedInAs}`).toBe(false);
    expect(outcome.status === 303 || (outcome.status >= 400 && outcome.status < 500), `status ${outcome.status}`).toBe(true);
    expect(outcome.reason).toMatch(expected.reason);
    expect(await lastAuditReason(ctx)).toMatch(expected.reason);
    if (variant.status === 'Responder/AuthnFailed') expect(outcome.reason).toMatch(/AuthnFailed, "The user is not assigned to this application"/);
  });
});
