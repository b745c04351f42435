import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { cliSandbox, expectBadInput } from '../support/cli.ts';
import { createEnterpriseIdp } from '../support/samlify-idp.ts';

const stripDeclaration = (xml: string) => xml.replace(/^<\?xml[^>]*\?>\s*/, '');

/** The CLI gaps of issue 14: federation metadata, request signing, SP keys, IdP-initiated login, the public URL. */
describe('lanyard CLI for enterprise SAML', () => {
  const { dir, env, lanyard, json, cleanup } = cliSandbox();
  let accountSid: string;
  let federation: string;

  beforeAll(async () => {
    const credentials = await generateSigningCredentials('Federation IdP');
    const first = createEnterpriseIdp({ credentials, entityId: 'https://idp-one.example.edu/idp' });
    const second = createEnterpriseIdp({
      credentials,
      entityId: 'https://idp-two.example.edu/idp',
      wantAuthnRequestsSigned: true,
      bindings: ['post'],
    });
    // An SP entity first, as in InCommon-style aggregates: the old import took the first entity.
    const sp =
      '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.edu/shibboleth">' +
      '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
      '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.edu/acs" index="1"/>' +
      '</md:SPSSODescriptor></md:EntityDescriptor>';
    federation = join(dir, 'federation.xml');
    writeFileSync(
      federation,
      `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${sp}${stripDeclaration(first.metadataXml)}${stripDeclaration(second.metadataXml)}</md:EntitiesDescriptor>`,
    );
    accountSid = (await json('accounts', 'create', '--name', 'Federated')).sid;
  });
  afterAll(cleanup);

  it('refuses federation metadata without a choice and lists the IdP entity IDs it holds', async () => {
    const run = await lanyard('sso', 'set', accountSid, '--metadata', federation);
    expectBadInput(run, /2 identity providers.*--entity-id.*"https:\/\/idp-one\.example\.edu\/idp", "https:\/\/idp-two\.example\.edu\/idp"/);
    expect(run.stderr).not.toContain('sp.example.edu');
    expectBadInput(
      await lanyard('sso', 'set', accountSid, '--metadata', federation, '--entity-id', 'https://sp.example.edu/shibboleth'),
      /no identity provider with entity ID.*idp-one/,
    );
  }, 120_000);

  it('takes the chosen entity, with its POST binding and its wish for signed requests', async () => {
    const connection = await json('sso', 'set', accountSid, '--metadata', federation, '--entity-id', 'https://idp-two.example.edu/idp');
    expect(connection).toMatchObject({
      issuer: 'https://idp-two.example.edu/idp',
      sso_binding: 'post',
      sign_authn_requests: true,
      want_authn_requests_signed: true,
      metadata_entity_id: 'https://idp-two.example.edu/idp',
    });
    const overridden = await json(
      'sso',
      'set',
      accountSid,
      '--metadata',
      federation,
      '--entity-id',
      'https://idp-two.example.edu/idp',
      '--no-sign-requests',
    );
    expect(overridden.sign_authn_requests).toBe(false);
  }, 120_000);

  it('warns that 127.0.0.1 SP URLs are useless to an IdP when LANYARD_PUBLIC_URL is unset, and not once it is set', async () => {
    const without = await lanyard('status', accountSid);
    expect(without.code).toBe(0);
    expect(without.stdout).toMatch(/Warning: LANYARD_PUBLIC_URL is not set.*http:\/\/127\.0\.0\.1/);
    env.LANYARD_PUBLIC_URL = 'https://sso.example.com';
    try {
      const withUrl = await lanyard('status', accountSid);
      expect(withUrl.stdout).toContain('https://sso.example.com/login/callback?connection=');
      expect(withUrl.stdout).not.toContain('Warning: LANYARD_PUBLIC_URL');
    } finally {
      delete env.LANYARD_PUBLIC_URL;
    }
  }, 120_000);

  it('switches IdP-initiated login on and off', async () => {
    expect((await json('idp-initiated', accountSid, 'on')).idp_initiated_login).toBe(true);
    expect((await lanyard('idp-initiated', accountSid, 'off')).stdout).toContain(': off');
    expect((await json('status', accountSid)).idp_initiated_login).toBe(false);
  }, 120_000);

  it('lists, rolls over and retires SP keys', async () => {
    const connectionSid = (await json('status', accountSid)).connections[0].sid as string;
    const listed = await json('sp-keys', 'list', connectionSid);
    expect(listed.keys.map((k: { use: string }) => k.use).sort()).toEqual(['encryption', 'signing']);
    const rolled = await json('sp-keys', 'rollover', connectionSid, 'encryption');
    expect(rolled.keys.filter((k: { use: string }) => k.use === 'encryption')).toHaveLength(2);
    expectBadInput(await lanyard('sp-keys', 'rollover', connectionSid, 'encryption'), /retire the old key/);
    const retired = await json('sp-keys', 'retire', connectionSid, 'encryption');
    const encryption = retired.keys.filter((k: { use: string }) => k.use === 'encryption');
    expect(encryption).toHaveLength(1);
    expect(encryption[0].generation).toBe(2);
  }, 120_000);
});
