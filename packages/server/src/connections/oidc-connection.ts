import { addClaims } from './claim-paths.ts';
import { fromOidcClaims, type AuthenticationContext } from './authentication-context.ts';
import type * as OpenId from 'openid-client';
import type { OidcIdpSettings } from '../accounts/model.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { InvalidParameterError, InvalidSsoSettingsError, LanyardError } from '../errors.ts';
import { emptyAttributes, type RawAttributes } from './profile-mapping.ts';
import { setOidcCommand } from './oidc-scopes.ts';

/** What a sign-in keeps between the redirect to the upstream IdP and its callback. */
export interface UpstreamChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface VerifiedOidcLogin {
  subject: string;
  /** The ID token's `iss` (checked against the provider's discovery document). */
  issuer: string;
  attributes: RawAttributes;
  /** The ID token's `auth_time` (ms), when the provider sent it. */
  authTime: number | undefined;
  /** The ID token's `acr` / `amr`, passed through when the provider sent them. */
  authnContext: AuthenticationContext;
}

/**
 * An upstream OIDC login failed verification (issuer, audience, nonce, signature, state…), or the
 * provider answered with an error (RFC 6749 §4.1.2.1, §5.2), kept in `upstreamError`.
 */
export class OidcResponseError extends LanyardError {
  constructor(
    detail: string,
    /** The provider's own OAuth error code (`access_denied`, `invalid_client`…), when it sent one. */
    readonly upstreamError: string | null = null,
  ) {
    super({
      code: 45020,
      status: 401,
      message: `The identity provider's OpenID Connect response was rejected: ${detail}`,
      oauthError: 'access_denied',
    });
  }
}

const DISCOVERY_TTL_MS = 10 * 60_000;
const discoveries = new Map<string, { metadata: Promise<OpenId.ServerMetadata>; at: number }>();
/** openid-client, loaded with the first OpenID Connect sign-in rather than at start-up. */
const openidClient = () => import('openid-client');

const isLoopback = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/**
 * An upstream OpenID Connect provider (Entra ID, Google, Okta, Keycloak…) through openid-client:
 * discovery, authorization code + PKCE, ID token verification (issuer, audience, nonce,
 * signature via the provider's JWKS, re-fetched when it rotates keys), userinfo.
 */
export class OidcConnection {
  constructor(
    private readonly settings: OidcIdpSettings,
    private readonly secrets: SecretBox,
    private readonly callbackUrl: string,
  ) {}

  /**
   * Discovery metadata is cached; the Configuration (and with it the JWKS cache) is new for
   * every sign-in, so a provider that rotates its signing keys is followed at once instead of
   * failing logins until a cache expires.
   */
  private async configuration(): Promise<OpenId.Configuration> {
    const client = await openidClient();
    const issuer = new URL(this.settings.issuer);
    const insecure = isLoopback(issuer);
    const key = `${this.settings.issuer}|${this.settings.clientId}`;
    let cached = discoveries.get(key);
    if (!cached || Date.now() - cached.at > DISCOVERY_TTL_MS) {
      const metadata = client
        // Plain http only for a provider on this machine (development and tests).
        .discovery(issuer, this.settings.clientId, undefined, client.None(), {
          ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
          timeout: 10,
        })
        .then((config) => config.serverMetadata());
      cached = { metadata, at: Date.now() };
      discoveries.set(key, cached);
      metadata.catch(() => discoveries.delete(key));
    }
    let metadata: OpenId.ServerMetadata;
    try {
      metadata = await cached.metadata;
    } catch (error) {
      throw new InvalidSsoSettingsError(
        `the OpenID Connect provider ${this.settings.issuer} could not be discovered (${describeDiscoveryFailure(this.settings.issuer, error)})`,
      );
    }
    const secret = this.settings.sealedClientSecret ? this.secrets.open(this.settings.sealedClientSecret) : undefined;
    const config = new client.Configuration(metadata, this.settings.clientId, secret, secret ? client.ClientSecretPost(secret) : client.None());
    if (insecure) client.allowInsecureRequests(config);
    return config;
  }

  /** `fresh`: pass the client's `prompt=login` / `max_age` on, so that the provider re-authenticates. */
  async authorizeUrl(checks: UpstreamChecks, fresh: { promptLogin: boolean; maxAgeSeconds: number | null } | null = null): Promise<string> {
    const config = await this.configuration();
    const client = await openidClient();
    return client
      .buildAuthorizationUrl(config, {
        redirect_uri: this.callbackUrl,
        scope: this.settings.scopes,
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        ...(fresh?.promptLogin ? { prompt: 'login' } : {}),
        ...(fresh?.maxAgeSeconds != null ? { max_age: String(fresh.maxAgeSeconds) } : {}),
      })
      .toString();
  }

  /** Exchanges the upstream code and returns the subject with ID-token and userinfo claims. */
  async complete(callback: URL, checks: UpstreamChecks): Promise<VerifiedOidcLogin> {
    const config = await this.configuration();
    const client = await openidClient();
    let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedNonce: checks.nonce,
        expectedState: checks.state,
        idTokenExpected: true,
      });
    } catch (error) {
      const upstream = upstreamErrorOf(error);
      // "Wrong secret" and "no secret" look alike at the provider; only Lanyard knows which it sent.
      const publicClient = upstream === 'invalid_client' && !this.settings.sealedClientSecret;
      throw new OidcResponseError(
        `${describe(error)}${publicClient ? ` (no client secret is stored for this connection (it is a public client): give the client secret with ${setOidcCommand(this.settings)} --client-secret-file <file>)` : ''}`,
        upstream,
      );
    }
    const claims = tokens.claims();
    if (!claims) throw new OidcResponseError('no ID token was returned');
    // Claim names are the provider's (and a user's, for some claims): no prototype to collide with.
    const attributes: RawAttributes = emptyAttributes();
    // Nested claims (Keycloak's realm_access.roles) become dotted claim paths a mapping can name.
    const add = (source: Record<string, unknown>) => addClaims(attributes, source);
    add(claims);
    if (config.serverMetadata().userinfo_endpoint) {
      try {
        add(await client.fetchUserInfo(config, tokens.access_token, claims.sub));
      } catch (error) {
        throw new OidcResponseError(`userinfo failed: ${describe(error)}`, upstreamErrorOf(error));
      }
    }
    return {
      subject: claims.sub,
      issuer: claims.iss,
      attributes,
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : undefined,
      authnContext: fromOidcClaims({ acr: claims.acr, amr: claims.amr }),
    };
  }
}

/** The OAuth error code in an openid-client error (its `error` field), when the provider sent one. */
function upstreamErrorOf(error: unknown): string | null {
  const code = (error as { error?: unknown }).error;
  return typeof code === 'string' ? code : null;
}

function describe(error: unknown): string {
  const e = error as { error?: string; error_description?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  // undici says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND, a TLS error) is what an admin can act on.
  const cause = e.message === 'fetch failed' && e.cause ? ` (${e.cause.code ?? e.cause.message ?? 'network error'})` : '';
  const text = e.error ? `${e.error}${e.error_description ? `: ${e.error_description}` : ''}` : `${e.message ?? String(error)}${cause}`;
  // The provider's error and error_description may arrive on the callback URL, which anyone can
  // write: bounded and on one line wherever they are shown (reports, error pages, logs).
  return oneLine(text);
}

/** Text from the provider (or about its answer) as one line of at most 300 characters. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ').slice(0, 300);
}

/** The discovery document's URL (OpenID Connect Discovery 1.0 §4): the issuer, then the well-known path. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * Why discovery failed, with the URL asked and what came back: openid-client says only
 * "unexpected HTTP response status code" and keeps the Response as the error's cause.
 */
function describeDiscoveryFailure(issuer: string, error: unknown): string {
  // openid-client compares the document's issuer with the URL asked (Discovery 1.0 §4.3) and keeps the document as the cause.
  const named = (error as { code?: string; cause?: { body?: { issuer?: unknown } } }).cause?.body?.issuer;
  if ((error as { code?: string }).code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && typeof named === 'string') {
    const theirs = oneLine(named);
    return `${discoveryUrl(issuer)} describes the provider ${theirs}, not ${issuer}. If that is your provider, give its issuer as it calls itself: --issuer ${theirs} (API: "issuer").`;
  }
  // Duck-typed: the Response may come from another realm's fetch than this module's global.
  const response = (error as { cause?: Partial<Response> }).cause;
  if (response && typeof response.status === 'number' && typeof response.headers?.get === 'function') {
    const type = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    // The content type and status text are the provider's to write, as its error_description is.
    const what = oneLine(
      response.ok
        ? `answered ${type} instead of a JSON discovery document`
        : `answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
    );
    return `${discoveryUrl(issuer)} ${what}; is ${issuer} the provider's issuer URL?`;
  }
  return `${discoveryUrl(issuer)}: ${describe(error)}`;
}

/** Checks that an issuer answers OpenID Connect discovery before a connection is saved. */
export async function discoverProvider(issuer: string): Promise<void> {
  const url = new URL(issuer);
  const client = await openidClient();
  try {
    await client.discovery(url, 'lanyard-discovery-check', undefined, client.None(), {
      ...(isLoopback(url) ? { execute: [client.allowInsecureRequests] } : {}),
      timeout: 10,
    });
  } catch (error) {
    const why = describeDiscoveryFailure(issuer, error);
    throw new InvalidParameterError(`The OpenID Connect provider ${issuer} could not be discovered: ${why}${/[.?]$/.test(why) ? '' : '.'}`);
  }
}
