import type { Connection } from '../accounts/model.ts';
import { KNOWN_ROLES, quoteList, readProfile, recognisedRoles, refusalOf, type RawAttributes } from '../connections/profile-mapping.ts';
import type { SamlConnection } from '../connections/saml-connection.ts';
import { explainRoleFailure } from '../connections/group-overage.ts';
import { resolveUniqueId } from '../users/unique-id.ts';
import { samlDiagnosis } from './saml-diagnosis.ts';
import { samlConnectionFor, samlSignInLocation } from '../login/saml-connections.ts';
import { randomToken } from '../crypto/random.ts';
import { InvalidParameterError, InvalidSsoSettingsError, LanyardError, NotFoundError, SamlResponseError } from '../errors.ts';
import { enhancedServiceProvider, legacyServiceProvider } from '../login/service-providers.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { LanyardConfig } from '../config.ts';
import type { LoginService } from '../login/login-service.ts';
import type { Storage } from '../storage/port.ts';

/** What a test sign-in uses: the account's settings, the broker's SAML wiring, storage and audit. */
export interface TestSignInDependencies {
  accounts: AccountService;
  storage: Storage;
  audit: AuditLog;
  config: Pick<LanyardConfig, 'publicUrl' | 'loginTtlSeconds'>;
  login: Pick<LoginService, 'samlDependencies'>;
}

const PENDING = 'console_test_login';
const RESULT = 'console_test_result';
/** RelayState of a test sign-in: the ACS routes the IdP's answer to a report, never to a token. */
export const TEST_RELAY_STATE_PREFIX = 'ct_';
const RESULT_TTL_MS = 3600_000;

export type TestServiceProvider = 'enhanced' | 'legacy';

interface PendingTest {
  id: string;
  accountSid: string;
  connectionSid: string;
  serviceProvider: TestServiceProvider;
  samlRequestId: string;
  adminKeySid: string;
}

export interface MissingAttribute {
  attribute: string;
  /** The attribute names the mapping looked for. */
  looked_for: string[];
  explanation: string;
}

/** What the IdP sent for one test sign-in and what Lanyard made of it. */
export interface TestSignInReport {
  id: string;
  account_sid: string;
  connection_sid: string;
  service_provider: TestServiceProvider;
  finished_at: string;
  succeeded: boolean;
  name_id: string | null;
  issuer: string | null;
  attributes: RawAttributes;
  profile: { full_name: string | null; email: string | null; roles: string[]; image_url: string | null };
  /** Role values neither recognised nor mapped: a real sign-in leaves them out of the token. */
  dropped_roles: string[];
  missing: MissingAttribute[];
  warnings: string[];
  error: { code: number; message: string } | null;
}

/**
 * "Test sign-in" from the console: a real SP-initiated SAML login against the account's IdP,
 * through the enhanced or the legacy service provider, whose outcome is a report (attributes
 * received, the mapped profile, what is missing) instead of a token. Nobody is provisioned.
 */
export class ConsoleTestSignIn {
  constructor(private readonly services: TestSignInDependencies) {}

  async begin(
    accountSid: string,
    adminKeySid: string,
    requested?: TestServiceProvider,
  ): Promise<{ id: string; url: string; service_provider: TestServiceProvider }> {
    const { accounts, storage, config } = this.services;
    const account = await accounts.getAccount(accountSid);
    const connections = await accounts.connectionsOf(accountSid);
    if (connections.some((c) => c.protocol === 'oidc')) {
      throw new InvalidSsoSettingsError(
        'the test sign-in covers SAML identity providers; this account uses OpenID Connect (try `lanyard mapping dry-run`)',
      );
    }
    const connection = connections.find((c) => c.saml !== null);
    if (!connection)
      throw new InvalidSsoSettingsError('set the identity provider (metadata, or issuer, SSO URL and certificate) before testing a sign-in');
    const serviceProvider = requested ?? (account.ssoMode === 'legacy' ? 'legacy' : 'enhanced');
    const test: PendingTest = {
      id: randomToken(TEST_RELAY_STATE_PREFIX),
      accountSid,
      connectionSid: connection.sid,
      serviceProvider,
      samlRequestId:
        '_' +
        randomToken()
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, 40),
      adminKeySid,
    };
    await storage.insert({ kind: PENDING, id: test.id, accountSid, payload: test, expiresAt: Date.now() + config.loginTtlSeconds * 1000 });
    const url = await samlSignInLocation(
      this.services.login.samlDependencies,
      this.samlFor(connection, serviceProvider),
      test.samlRequestId,
      test.id,
    );
    return { id: test.id, url, service_provider: serviceProvider };
  }

  /** The IdP's answer at an ACS (`at` names which one), turned into a stored, audited report. */
  async complete(
    at: { serviceProvider: TestServiceProvider; sid: string },
    samlResponse: string | undefined,
    relayState: string,
  ): Promise<TestSignInReport> {
    const { storage, accounts, audit } = this.services;
    const consumed = await storage.consume<PendingTest>(PENDING, relayState);
    if (!consumed?.consumedNow)
      throw new SamlResponseError('this test sign-in has expired, was already completed, or is unknown; start it again from the console');
    const test = consumed.record.payload;
    const expectedSid = test.serviceProvider === 'enhanced' ? test.connectionSid : test.accountSid;
    if (at.serviceProvider !== test.serviceProvider || at.sid !== expectedSid) {
      throw new SamlResponseError('the response arrived at another ACS than the one the test sign-in named');
    }
    const connection = await accounts.getConnection(test.connectionSid);
    const report = await this.verify(test, connection, samlResponse);
    await storage.insert({
      kind: RESULT,
      id: test.id,
      accountSid: test.accountSid,
      payload: { adminKeySid: test.adminKeySid, report },
      expiresAt: Date.now() + RESULT_TTL_MS,
    });
    await audit.record({
      type: report.succeeded ? 'login.succeeded' : 'login.failed',
      accountSid: test.accountSid,
      connectionSid: connection.sid,
      userSid: null,
      uniqueId: report.name_id,
      surface: 'console-test',
      code: report.error?.code ?? null,
      reason: `${report.error ? `${report.error.message} ` : ''}(test only, no token issued: ${test.serviceProvider} SP, started with admin key ${test.adminKeySid})`,
    });
    return report;
  }

  /** The report of a test this admin key started: pending until the IdP has answered. */
  async status(id: string, adminKeySid: string): Promise<{ status: 'pending' } | { status: 'done'; report: TestSignInReport }> {
    const { storage } = this.services;
    const result = await storage.find<{ adminKeySid: string; report: TestSignInReport }>(RESULT, id);
    if (result && result.payload.adminKeySid === adminKeySid) return { status: 'done', report: result.payload.report };
    const pending = await storage.find<PendingTest>(PENDING, id);
    if (!result && pending && pending.payload.adminKeySid === adminKeySid) return { status: 'pending' };
    throw new NotFoundError('No such test sign-in (reports are kept for an hour).');
  }

  private async verify(test: PendingTest, connection: Connection, samlResponse: string | undefined): Promise<TestSignInReport> {
    const base = {
      id: test.id,
      account_sid: test.accountSid,
      connection_sid: connection.sid,
      service_provider: test.serviceProvider,
      finished_at: new Date().toISOString(),
    };
    try {
      if (!samlResponse) throw new InvalidParameterError('SAMLResponse is missing from the POST body.');
      if (!connection.saml) throw new InvalidSsoSettingsError('the connection lost its identity provider settings during the test');
      const assertion = await this.samlFor(connection, test.serviceProvider).verify(samlResponse, true);
      if (assertion.inResponseTo !== test.samlRequestId) throw new SamlResponseError('the response answers another sign-in request (InResponseTo)');
      const declared = (await this.services.accounts.getAccount(test.accountSid)).declaredRoles ?? [];
      // The same unique-id policy as a sign-in (a transient NameID is refused, with its fix).
      let uniqueId: string | undefined = assertion.nameId;
      let identityRefusal: LanyardError | null = null;
      try {
        uniqueId = resolveUniqueId(assertion, assertion.attributes, connection.uniqueId);
      } catch (error) {
        if (!(error instanceof LanyardError)) throw error;
        identityRefusal = error;
      }
      const reading = readProfile(uniqueId, assertion.attributes, connection.mapping, declared);
      const missing = reading.missing.map((attribute) => explainMissing(attribute, connection, assertion.attributes));
      const recognised = recognisedRoles(declared);
      const refusal = identityRefusal ?? (explainRoleFailure(refusalOf(reading, declared), assertion.attributes) as LanyardError | null);
      return {
        ...base,
        succeeded: refusal === null,
        name_id: uniqueId ?? null,
        issuer: assertion.issuer ?? null,
        attributes: assertion.attributes,
        profile: { full_name: reading.fullName ?? null, email: reading.email ?? null, roles: reading.roles, image_url: reading.imageUrl ?? null },
        dropped_roles: reading.droppedRoles,
        missing,
        warnings: [
          ...samlDiagnosis(samlResponse, connection, assertion),
          ...(reading.droppedRoles.length > 0
            ? [
                `Dropped role values ${quoteList(reading.droppedRoles)}: they are not recognised roles (${recognised.join(', ')}) and not mapped. ` +
                  'Map them to roles under "Role values", or declare them as account roles, to keep them.',
              ]
            : []),
          ...reading.roles
            .filter((role) => !recognised.includes(role))
            .map((role) => `Role "${role}" (mapped) is not one of ${recognised.join(', ')}: desktops may not recognise it.`),
        ],
        error: refusal ? errorOf(refusal) : null,
      };
    } catch (error) {
      if (!(error instanceof LanyardError)) throw error;
      return {
        ...base,
        succeeded: false,
        name_id: null,
        issuer: null,
        attributes: {},
        profile: { full_name: null, email: null, roles: [], image_url: null },
        dropped_roles: [],
        missing: [],
        warnings: [],
        error: errorOf(error),
      };
    }
  }

  private samlFor(connection: Connection, serviceProvider: TestServiceProvider): SamlConnection {
    if (!connection.saml) throw new InvalidSsoSettingsError('the connection has no identity provider settings');
    const { publicUrl } = this.services.config;
    const sp =
      serviceProvider === 'enhanced' ? enhancedServiceProvider(publicUrl, connection.sid) : legacyServiceProvider(publicUrl, connection.accountSid);
    return samlConnectionFor(this.services.login.samlDependencies, connection, sp);
  }
}

const errorOf = (error: LanyardError) => ({ code: error.code, message: error.message });

const MAPPED_FIELDS = { full_name: 'full_name', email: 'email', roles: 'roles' } as const;

/** Error 45050 in words: what a real sign-in would say, where Lanyard looked, and the two fixes. */
function explainMissing(attribute: string, connection: Connection, received: RawAttributes): MissingAttribute {
  if (attribute === 'NameID') {
    return {
      attribute,
      looked_for: ['NameID'],
      explanation:
        "The assertion has no NameID (its subject). Lanyard uses it as the user's unique id: configure the IdP to send a persistent identifier, such as the e-mail address or an immutable user id.",
    };
  }
  const lookedFor = connection.mapping[MAPPED_FIELDS[attribute as keyof typeof MAPPED_FIELDS]];
  const names = Object.keys(received);
  const sent = names.length > 0 ? `The IdP sent: ${names.map((n) => `"${n}"`).join(', ')}.` : 'The IdP sent no attributes at all.';
  const roles =
    attribute === 'roles'
      ? ` Every agent needs at least one role (${KNOWN_ROLES.join(', ')}): make sure this user belongs to a group the IdP sends as roles.`
      : '';
  return {
    attribute,
    looked_for: lookedFor,
    explanation:
      `A real sign-in by this user would fail with error 45050: the identity provider did not send the mandatory attribute "${attribute}". ` +
      `Lanyard looks for an attribute named ${lookedFor.map((n) => `"${n}"`).join(' or ')} (with a non-empty value). ${sent} ` +
      `Fix it at the IdP by adding the attribute to this application's assertion, or, if the IdP sends it under another name, add that name under "Attribute mapping".${roles}`,
  };
}
