import { hasIdentityProvider, type Connection } from '../accounts/model.ts';
import { KNOWN_ROLES, quoteList, readProfile, recognisedRoles, refusalOf, type RawAttributes } from '../connections/profile-mapping.ts';
import { uniqueIdOf, type ConnectionProtocol, type IdpMessage, type SignInChecks } from '../connections/connection-protocol.ts';
import { explainRoleFailure } from '../connections/group-overage.ts';
import { explainForConnection, lookedForOf } from '../connections/missing-attribute.ts';
import { missingScopeCause } from '../connections/oidc-scopes.ts';
import { randomToken } from '../crypto/random.ts';
import { InvalidParameterError, InvalidSsoSettingsError, LanyardError, NotFoundError, SamlResponseError } from '../errors.ts';
import type { IdpEndpoint } from '../login/relay-states.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { LanyardConfig } from '../config.ts';
import type { LoginService } from '../login/login-service.ts';
import type { Storage } from '../storage/port.ts';
import type { MissingAttribute, TestServiceProvider, TestSignInReport, TestSignInStarted, TestSignInStatus } from './responses.ts';

export type { MissingAttribute, TestServiceProvider, TestSignInReport } from './responses.ts';

/** What a test sign-in uses: the account's settings, the broker's connection protocols, storage and audit. */
export interface TestSignInDependencies {
  accounts: AccountService;
  storage: Storage;
  audit: AuditLog;
  config: Pick<LanyardConfig, 'publicUrl' | 'loginTtlSeconds'>;
  login: Pick<LoginService, 'protocolFor' | 'browserLocation'>;
}

const PENDING = 'console_test_login';
const RESULT = 'console_test_result';
/** Outlives the pending test by the report lifetime, so that a test the IdP never answered is told from an unknown id. */
const STARTED = 'console_test_started';
/** RelayState (SAML) or state (OIDC) of a test sign-in: the broker routes the IdP's answer to a report, never to a token. */
export const TEST_RELAY_STATE_PREFIX = 'ct_';
const RESULT_TTL_MS = 3600_000;

/** A test in flight; the checks are spread in, as in the broker's sign-in records. */
interface PendingTest {
  id: string;
  accountSid: string;
  connectionSid: string;
  serviceProvider: TestServiceProvider;
  samlRequestId: string;
  /** The OIDC nonce and PKCE verifier; null for SAML, absent on records stored before OIDC tests. */
  upstream?: SignInChecks['upstream'];
  adminKeySid: string;
}

/** What is kept of a test to explain one the IdP never answered. */
interface StartedTest {
  adminKeySid: string;
  protocol: 'saml' | 'oidc';
  /** Where the IdP answers: the redirect URI (OIDC) or the ACS URL (SAML) to register there. */
  endpoint: string;
  /** SAML: the SP entity ID; OIDC: the client ID. */
  serviceProviderId: string;
  /** When the pending test expires (ms). */
  deadline: number;
}

const checksOf = (test: PendingTest): SignInChecks => ({ samlRequestId: test.samlRequestId, upstream: test.upstream ?? null });

/**
 * "Test sign-in" from the console: a real sign-in started by Lanyard at the account's IdP (SAML,
 * through the enhanced or the legacy service provider, or OpenID Connect), whose outcome is a
 * report (attributes or claims received, the mapped profile, what is missing) instead of a token.
 * Nobody is provisioned. The protocol is the broker's (`ConnectionProtocol`): nothing here asks
 * which one a connection speaks.
 */
export class ConsoleTestSignIn {
  constructor(private readonly services: TestSignInDependencies) {}

  /**
   * Stores a pending test and returns where to send the browser.
   * @throws InvalidSsoSettingsError (403) when the account has no IdP yet; InvalidParameterError
   *   (400) for the legacy service provider and an OpenID Connect connection.
   */
  async begin(accountSid: string, adminKeySid: string, requested?: TestServiceProvider): Promise<TestSignInStarted> {
    const { accounts, storage, config, login } = this.services;
    const account = await accounts.getAccount(accountSid);
    const connection = (await accounts.connectionsOf(accountSid)).find(hasIdentityProvider);
    if (!connection) {
      throw new InvalidSsoSettingsError(
        'set the identity provider (SAML metadata, or issuer, SSO URL and certificate; or an OpenID Connect provider) before testing a sign-in',
      );
    }
    const serviceProvider = requested ?? (account.ssoMode === 'legacy' ? 'legacy' : 'enhanced');
    const protocol = login.protocolFor(connection, serviceProvider);
    const test: PendingTest = {
      id: randomToken(TEST_RELAY_STATE_PREFIX),
      accountSid,
      connectionSid: connection.sid,
      serviceProvider,
      ...protocol.newChecks(),
      adminKeySid,
    };
    const deadline = Date.now() + config.loginTtlSeconds * 1000;
    await storage.insert({ kind: PENDING, id: test.id, accountSid, payload: test, expiresAt: deadline });
    const described = protocol.describeServiceProvider();
    const started: StartedTest = {
      adminKeySid,
      protocol: protocol.protocol,
      endpoint: described.endpoint,
      serviceProviderId: described.id,
      deadline,
    };
    await storage.insert({ kind: STARTED, id: test.id, accountSid, payload: started, expiresAt: deadline + RESULT_TTL_MS });
    const request = await protocol.start(test.id, checksOf(test), { forceAuthn: false, fresh: null });
    return {
      id: test.id,
      url: await login.browserLocation(request),
      service_provider: serviceProvider,
      waiting: waitingFor(started, config.loginTtlSeconds),
      expires_at: new Date(deadline).toISOString(),
    };
  }

  /**
   * The IdP's answer at one of the broker's endpoints (`at` names which one), turned into a
   * stored, audited report. `message` is undefined when a POST to an ACS carried no SAMLResponse.
   * @throws SamlResponseError (401) for an unknown, expired or spent test, or an answer at
   *   another endpoint than the test's service provider's.
   */
  async complete(at: IdpEndpoint, message: IdpMessage | undefined, testId: string): Promise<TestSignInReport> {
    const { storage, accounts, audit } = this.services;
    const consumed = await storage.consume<PendingTest>(PENDING, testId);
    if (!consumed?.consumedNow)
      throw new SamlResponseError('this test sign-in has expired, was already completed, or is unknown; start it again from the console');
    // The IdP answered: the test can no longer be "expired" (never answered), even after its report has aged out.
    await storage.destroy(STARTED, testId);
    const test = consumed.record.payload;
    const expectedSid = test.serviceProvider === 'enhanced' ? test.connectionSid : test.accountSid;
    // The OIDC callback's URL names no SID; the protocol refuses an answer of the other kind.
    if (at.serviceProvider !== test.serviceProvider || (at.sid !== null && at.sid !== expectedSid)) {
      throw new SamlResponseError('the answer arrived at another endpoint (ACS or OIDC callback) than the one the test sign-in named');
    }
    const connection = await accounts.getConnection(test.connectionSid);
    const report = await this.verify(test, connection, message);
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
      reason: `${report.error ? `${report.error.message} ` : ''}(test only, no token issued: ${test.serviceProvider} SP, started ${starterOf(test.adminKeySid)})`,
    });
    return report;
  }

  /**
   * The report of a test this admin key started: pending until the IdP has answered, expired
   * when it did not answer within the sign-in lifetime (with what to register at the IdP).
   * @throws NotFoundError for an id this admin key did not start, one older than the reports, or
   *   one the IdP answered whose report has aged out (never "expired": it was answered).
   */
  async status(id: string, adminKeySid: string, now = Date.now()): Promise<TestSignInStatus> {
    const { storage } = this.services;
    const result = await storage.find<{ adminKeySid: string; report: TestSignInReport }>(RESULT, id);
    if (result && result.payload.adminKeySid === adminKeySid) return { status: 'done', report: result.payload.report };
    const pending = await storage.find<PendingTest>(PENDING, id);
    if (!result && pending && pending.payload.adminKeySid === adminKeySid) return { status: 'pending' };
    const started = await storage.find<StartedTest>(STARTED, id);
    if (!result && started && started.payload.adminKeySid === adminKeySid && now >= started.payload.deadline) {
      return { status: 'expired', ...unanswered(started.payload, this.services.config.loginTtlSeconds) };
    }
    throw new NotFoundError('No such test sign-in (reports are kept for an hour).');
  }

  private async verify(test: PendingTest, connection: Connection, message: IdpMessage | undefined): Promise<TestSignInReport> {
    const base = {
      id: test.id,
      account_sid: test.accountSid,
      connection_sid: connection.sid,
      service_provider: test.serviceProvider,
      finished_at: new Date().toISOString(),
      configured_issuer: connection.saml?.issuer ?? connection.oidc?.issuer ?? null,
    };
    let protocol: ConnectionProtocol | undefined;
    try {
      protocol = this.services.login.protocolFor(connection, test.serviceProvider);
      // Only an ACS can send nothing: the OIDC callback's message is its URL.
      if (!message) throw new InvalidParameterError('SAMLResponse is missing from the POST body.');
      const signIn = await protocol.complete(message, test.id, checksOf(test));
      const declared = (await this.services.accounts.getAccount(test.accountSid)).declaredRoles ?? [];
      // The same unique-id policy as a sign-in (a transient NameID is refused, with its fix).
      let uniqueId: string | undefined = signIn.subject.id;
      let identityRefusal: LanyardError | null = null;
      try {
        uniqueId = uniqueIdOf(signIn, connection.uniqueId);
      } catch (error) {
        if (!(error instanceof LanyardError)) throw error;
        identityRefusal = error;
      }
      const reading = readProfile(uniqueId, signIn.attributes, connection.mapping, declared);
      const missing = reading.missing.map((attribute) => explainMissing(attribute, connection, signIn.attributes));
      const recognised = recognisedRoles(declared);
      const refusal = explainForConnection(
        identityRefusal ?? explainRoleFailure(refusalOf(reading, declared), signIn.attributes),
        connection,
      ) as LanyardError | null;
      return {
        ...base,
        protocol: protocol.protocol,
        succeeded: refusal === null,
        name_id: uniqueId ?? null,
        issuer: signIn.issuer ?? null,
        attributes: signIn.attributes,
        profile: { full_name: reading.fullName ?? null, email: reading.email ?? null, roles: reading.roles, image_url: reading.imageUrl ?? null },
        dropped_roles: reading.droppedRoles,
        missing,
        warnings: [
          ...protocol.diagnose(message, signIn),
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
        protocol: protocol?.protocol ?? null,
        succeeded: false,
        name_id: null,
        issuer: null,
        attributes: {},
        profile: { full_name: null, email: null, roles: [], image_url: null },
        dropped_roles: [],
        missing: [],
        warnings: protocol?.diagnose(message, error) ?? [],
        error: errorOf(error),
      };
    }
  }
}

const errorOf = (error: LanyardError) => ({ code: error.code, message: error.message });

/** Who started a test, for the audit log: an admin key (the console), or the CLI with its operator (`cli (name)`). */
const starterOf = (starter: string) => (starter.startsWith('cli') ? `from the CLI by ${starter}` : `with admin key ${starter}`);

/** The sign-in lifetime (LANYARD_LOGIN_TTL) in words: seconds under two minutes, else minutes. */
function lifetimeText(loginTtlSeconds: number): string {
  return loginTtlSeconds < 120 ? `${loginTtlSeconds} second${loginTtlSeconds === 1 ? '' : 's'}` : `${Math.round(loginTtlSeconds / 60)} minutes`;
}

/**
 * While a test waits: for how long, and the usual cause when nothing comes back (the IdP showed
 * its own error page because Lanyard's endpoint is not registered there), by protocol.
 */
function waitingFor(test: StartedTest, loginTtlSeconds: number): string {
  const cause =
    test.protocol === 'oidc'
      ? `the redirect URI ${test.endpoint} is not registered for the client ${test.serviceProviderId} at the provider, which then shows invalid_redirect_uri`
      : `the ACS URL ${test.endpoint} is not registered at the IdP (SP entity ID ${test.serviceProviderId}), which then shows its own error page`;
  return `Waiting up to ${lifetimeText(loginTtlSeconds)} (the sign-in lifetime, LANYARD_LOGIN_TTL) for the answer. If nothing comes back, most often ${cause}.`;
}

/**
 * A test the IdP never answered: most often it showed its own error page (an unregistered
 * redirect URI or ACS URL) and the browser never came back. Names what to register, by protocol.
 */
function unanswered(test: StartedTest, loginTtlSeconds: number) {
  const lifetime = lifetimeText(loginTtlSeconds);
  const register =
    test.protocol === 'oidc'
      ? `If it showed an error such as a redirect URI mismatch (invalid_redirect_uri), register ${test.endpoint} there as a redirect URI of the client ${test.serviceProviderId}.`
      : `If it showed an error such as an unknown service provider or ACS URL, register the ACS URL ${test.endpoint} there (SP entity ID ${test.serviceProviderId}).`;
  return {
    message: `No answer from the identity provider within ${lifetime} (the sign-in lifetime). ${register} Then start a new test sign-in.`,
    protocol: test.protocol,
    endpoint: test.endpoint,
    expired_at: new Date(test.deadline).toISOString(),
  };
}

/** Error 45050 in words: what a real sign-in would say, where Lanyard looked, the fixes, and a scope as the cause when it is. */
function explainMissing(attribute: string, connection: Connection, received: RawAttributes): MissingAttribute {
  if (attribute === 'NameID') {
    return {
      attribute,
      looked_for: lookedForOf(attribute, connection),
      explanation:
        connection.protocol === 'oidc'
          ? "The ID token has no sub (its subject). Lanyard uses it as the user's unique id: every OpenID Connect provider must send it (OpenID Connect Core §2)."
          : "The assertion has no NameID (its subject). Lanyard uses it as the user's unique id: configure the IdP to send a persistent identifier, such as the e-mail address or an immutable user id.",
    };
  }
  const oidc = connection.protocol === 'oidc';
  const what = oidc ? 'claim' : 'attribute';
  const lookedFor = lookedForOf(attribute, connection);
  const names = Object.keys(received);
  const sent = names.length > 0 ? `The IdP sent: ${names.map((n) => `"${n}"`).join(', ')}.` : `The IdP sent no ${what}s at all.`;
  const roles =
    attribute === 'roles'
      ? ` Every agent needs at least one role (${KNOWN_ROLES.join(', ')}): make sure this user belongs to a group the IdP sends as roles.`
      : '';
  const scopes = oidc && connection.oidc ? missingScopeCause(connection.oidc, lookedFor) : null;
  return {
    attribute,
    looked_for: lookedFor,
    explanation:
      `A real sign-in by this user would fail with error 45050: the identity provider did not send the mandatory ${what} "${attribute}". ` +
      `Lanyard looks for ${what === 'claim' ? 'a claim' : 'an attribute'} named ${lookedFor.map((n) => `"${n}"`).join(' or ')} (with a non-empty value). ${sent} ` +
      (scopes ? `${scopes} ` : '') +
      `Fix it at the IdP by adding the ${what} to what it sends this application (${oidc ? 'an OpenID Connect claim in the ID token or userinfo' : 'an attribute in the SAML assertion'}), ` +
      `or, if the IdP sends it under another name, add that name under "Attributes and roles".${roles}`,
  };
}
