import type { LanyardError } from '../errors.ts';
import { resolveUniqueId, type UniqueIdPolicy } from '../users/unique-id.ts';
import type { AuthenticationContext } from './authentication-context.ts';
import type { RawAttributes } from './profile-mapping.ts';
import type { IdpRequest } from './saml-request-signing.ts';

export type { IdpRequest } from './saml-request-signing.ts';

/**
 * What the IdP sent back to one of the broker's endpoints: a SAMLResponse POSTed to the ACS
 * (SAML bindings §3.5), or the URL of the redirect to the OIDC callback with its code
 * (OpenID Connect Core §3.1.2.5).
 */
export type IdpMessage = { samlResponse: string } | { callback: URL };

/** What a sign-in keeps between its start and the IdP's answer, so that the answer can be checked. */
export interface SignInChecks {
  /** The AuthnRequest ID sent; a SAML response's InResponseTo must name it (every sign-in has one). */
  samlRequestId: string;
  /** The nonce and PKCE verifier sent to an OpenID Connect provider; null for SAML. */
  upstream: { nonce: string; codeVerifier: string } | null;
}

/** How fresh the IdP's authentication must be (the client's `prompt=login` / `max_age`). */
export interface FreshnessRequest {
  /** SAML `ForceAuthn` (SAML core §3.4.1). */
  forceAuthn: boolean;
  /** OIDC upstream `prompt=login` and `max_age` (OpenID Connect Core §3.1.2.1); null: as the IdP likes. */
  fresh: { promptLogin: boolean; maxAgeSeconds: number | null } | null;
}

/**
 * Who the IdP says signed in, as it named them: the SAML NameID and its Format (SAML core
 * §2.2.2, §8.3), or the OpenID Connect `sub` claim (OpenID Connect Core §2), which has no format.
 */
export interface IdpSubject {
  /** undefined when the assertion carries no NameID. */
  id: string | undefined;
  /** The NameID Format URI (transient, persistent, emailAddress…); undefined for OIDC and when absent. */
  format: string | undefined;
}

/** A verified answer: who signed in, what the IdP said about them, and when they authenticated (ms). */
export interface VerifiedSignIn {
  /** The subject as the IdP sent it; `uniqueIdOf` turns it into the user's unique id. */
  subject: IdpSubject;
  /** The IdP that answered: the assertion's Issuer, or the ID token's `iss`; undefined when absent. */
  issuer: string | undefined;
  attributes: RawAttributes;
  authTime: number | undefined;
  /** How the IdP says the user authenticated, as `acr`/`amr` (authentication-context.ts). */
  authnContext: AuthenticationContext;
}

/**
 * The user's unique id under the connection's policy (users/unique-id.ts): the subject, or the
 * attribute the policy names; undefined when the IdP sent no subject.
 * @throws SamlResponseError (401) for a transient NameID; MissingAttributeError (45050) when the
 *   policy's attribute is absent.
 */
export function uniqueIdOf(signIn: VerifiedSignIn, policy?: UniqueIdPolicy): string | undefined {
  return resolveUniqueId({ nameId: signIn.subject.id, nameIdFormat: signIn.subject.format }, signIn.attributes, policy);
}

/** What an administrator registers at the IdP for this service provider. */
export interface ServiceProviderDescription {
  protocol: 'saml' | 'oidc';
  /** SAML: the SP entity ID; OIDC: the client ID registered at the provider. */
  id: string;
  /** SAML: the assertion consumer service URL; OIDC: the redirect URI. */
  endpoint: string;
  /** SAML: the SP metadata document (XML), certificates included; OIDC: none. */
  metadata(): Promise<string | undefined>;
}

/**
 * One identity-provider protocol of a connection, as the login broker (and the console's test
 * sign-in) use it: start a sign-in, complete it, describe the service provider, explain an answer
 * to an administrator. SAML
 * (saml-protocol.ts) and OpenID Connect (oidc-protocol.ts) implement it; the broker never asks
 * which one it has.
 */
export interface ConnectionProtocol {
  readonly protocol: 'saml' | 'oidc';
  /** Fresh values this sign-in's answer must carry back. */
  newChecks(): SignInChecks;
  /**
   * Where to send the browser: `signInId` travels to the IdP and back (SAML RelayState, OIDC
   * `state`). The broker turns a POST-binding request into a page of its own.
   */
  start(signInId: string, checks: SignInChecks, freshness: FreshnessRequest): Promise<IdpRequest>;
  /**
   * Verifies the IdP's answer to the sign-in `signInId` against its checks.
   * @throws SamlResponseError / OidcResponseError (401) when the answer fails verification;
   *   InvalidSsoSettingsError (403) when the answer is of the other protocol (the connection changed).
   */
  complete(message: IdpMessage, signInId: string, checks: SignInChecks): Promise<VerifiedSignIn>;
  describeServiceProvider(): ServiceProviderDescription;
  /**
   * What the IdP's answer shows about how the IdP is set up, in sentences for the console's test
   * sign-in report: `outcome` is what `complete` returned, or the error it threw. No sentences
   * when there is nothing to add to the error's own message.
   */
  diagnose(message: IdpMessage | undefined, outcome: VerifiedSignIn | LanyardError): string[];
}
