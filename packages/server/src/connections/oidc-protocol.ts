import type { Connection } from '../accounts/model.ts';
import { InvalidSsoSettingsError, type LanyardError } from '../errors.ts';
import { randomToken } from '../crypto/random.ts';
import type {
  ConnectionProtocol,
  FreshnessRequest,
  IdpMessage,
  ServiceProviderDescription,
  SignInChecks,
  VerifiedSignIn,
} from './connection-protocol.ts';
import type { OidcConnection } from './oidc-connection.ts';
import { oidcDiagnosis } from './oidc-diagnosis.ts';
import { newSamlRequestId } from './saml-protocol.ts';
import type { IdpRequest } from './saml-request-signing.ts';

/**
 * An upstream OpenID Connect provider (authorization code + PKCE, OpenID Connect Core §3.1) as a
 * connection protocol: wraps an `OidcConnection`.
 */
export class OidcProtocol implements ConnectionProtocol {
  readonly protocol = 'oidc';

  constructor(
    private readonly oidc: OidcConnection,
    private readonly connection: Connection,
    /** The redirect URI registered at the provider (`/login/oidc/callback`). */
    private readonly callbackUrl: string,
  ) {}

  newChecks(): SignInChecks {
    // The request ID is unused here; sign-in records keep one shape whatever the protocol.
    return { samlRequestId: newSamlRequestId(), upstream: { nonce: randomToken(), codeVerifier: randomToken() } };
  }

  async start(signInId: string, checks: SignInChecks, freshness: FreshnessRequest): Promise<IdpRequest> {
    if (!checks.upstream) throw new InvalidSsoSettingsError('the connection no longer points at an OpenID Connect provider');
    return { binding: 'redirect', url: await this.oidc.authorizeUrl({ state: signInId, ...checks.upstream }, freshness.fresh) };
  }

  async complete(message: IdpMessage, signInId: string, checks: SignInChecks): Promise<VerifiedSignIn> {
    // A SAML answer to a connection that signs in through an OpenID Connect provider (it moved, or
    // the answer was sent with another sign-in's RelayState): say so, the settings are there.
    if (!('callback' in message)) {
      throw new InvalidSsoSettingsError(
        `a SAML response arrived, but the connection signs in through an OpenID Connect provider, whose answers come back at ${this.callbackUrl}`,
      );
    }
    if (!checks.upstream) throw new InvalidSsoSettingsError('the connection no longer points at an OpenID Connect provider');
    const verified = await this.oidc.complete(message.callback, { state: signInId, ...checks.upstream });
    return {
      subject: { id: verified.subject, format: undefined },
      issuer: verified.issuer,
      attributes: verified.attributes,
      authTime: verified.authTime,
      authnContext: verified.authnContext,
    };
  }

  describeServiceProvider(): ServiceProviderDescription {
    return { protocol: 'oidc', id: this.connection.oidc?.clientId ?? '', endpoint: this.callbackUrl, metadata: async () => undefined };
  }

  diagnose(_message: IdpMessage | undefined, outcome: VerifiedSignIn | LanyardError): string[] {
    return oidcDiagnosis(outcome, Date.now(), Boolean(this.connection.oidc?.sealedClientSecret), {
      accountSid: this.connection.accountSid,
      settings: this.connection.oidc ?? undefined,
    });
  }
}
