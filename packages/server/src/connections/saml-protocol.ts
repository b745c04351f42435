import type { Connection } from '../accounts/model.ts';
import { InvalidSsoSettingsError, SamlResponseError, type LanyardError } from '../errors.ts';
import { randomToken } from '../crypto/random.ts';
import type {
  ConnectionProtocol,
  FreshnessRequest,
  IdpMessage,
  ServiceProviderDescription,
  SignInChecks,
  VerifiedSignIn,
} from './connection-protocol.ts';
import type { SamlConnection, ServiceProvider } from './saml-connection.ts';
import { samlDiagnosis } from './saml-diagnosis.ts';
import type { IdpRequest } from './saml-request-signing.ts';

/** A new AuthnRequest ID: an xs:ID (SAML core §1.3.4), 40 random letters and digits after `_`. */
export function newSamlRequestId(): string {
  return (
    '_' +
    randomToken()
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 40)
  );
}

/**
 * SAML 2.0 Web Browser SSO (SAML profiles §4.1) as a connection protocol: wraps a
 * `SamlConnection` (AuthnRequest, response verification) without reaching into it.
 */
export class SamlProtocol implements ConnectionProtocol {
  readonly protocol = 'saml';

  constructor(
    private readonly saml: SamlConnection,
    private readonly connection: Connection,
    private readonly sp: ServiceProvider,
    /** The SP metadata of this connection (login/service-provider-metadata.ts). */
    private readonly metadata: () => Promise<string>,
  ) {}

  newChecks(): SignInChecks {
    return { samlRequestId: newSamlRequestId(), upstream: null };
  }

  start(signInId: string, checks: SignInChecks, freshness: FreshnessRequest): Promise<IdpRequest> {
    return this.saml.authnRequest(checks.samlRequestId, signInId, { forceAuthn: freshness.forceAuthn });
  }

  async complete(message: IdpMessage, _signInId: string, checks: SignInChecks): Promise<VerifiedSignIn> {
    if (!('samlResponse' in message)) throw new InvalidSsoSettingsError('the connection no longer points at an OpenID Connect provider');
    const assertion = await this.saml.verify(message.samlResponse, true);
    if (assertion.inResponseTo !== checks.samlRequestId) throw new SamlResponseError('the response answers another sign-in request (InResponseTo)');
    return {
      subject: { id: assertion.nameId, format: assertion.nameIdFormat },
      issuer: assertion.issuer,
      attributes: assertion.attributes,
      authTime: assertion.authnInstant,
      authnContext: assertion.authnContext,
    };
  }

  describeServiceProvider(): ServiceProviderDescription {
    return { protocol: 'saml', id: this.sp.entityId, endpoint: this.sp.acsUrl, metadata: this.metadata };
  }

  /** A verified response: encryption, how requests went, the IdP session's age. A refused one: its error says it all. */
  diagnose(message: IdpMessage | undefined, outcome: VerifiedSignIn | LanyardError): string[] {
    if (!message || !('samlResponse' in message) || outcome instanceof Error) return [];
    return samlDiagnosis(message.samlResponse, this.connection.saml, outcome.authTime);
  }
}
