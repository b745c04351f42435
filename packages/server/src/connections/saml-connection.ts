import type { ServiceProvider } from './sp-metadata.ts';
import { storableKey } from '../storage/storable-values.ts';
import type { SamlIdpSettings } from '../accounts/model.ts';
import { hasUnsafeUrlCharacters } from '../accounts/idp-urls.ts';
import { InvalidSsoSettingsError, SamlResponseError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import type { RawAttributes } from './profile-mapping.ts';
import type { SpKeyMaterial } from './sp-keys.ts';
import { signsAuthnRequests, type IdpRequest, type RequestOptions, type SamlKeySource } from './saml-request-signing.ts';
import { authnRequestXml, postBindingFields, redirectBindingUrl } from './saml-authn-request.ts';
import { verifyOnThisThread, type SamlMessageVerifier } from './saml-verification-pool.ts';
import { DecryptionKeysNeeded } from './saml-verification-task.ts';
import { assertionOf, type VerifiedSamlMessage } from './saml-verified-message.ts';
import { checkConditions } from './saml-assertion.ts';
import { fromSamlClassRef, type AuthenticationContext } from './authentication-context.ts';

export type { ServiceProvider } from './sp-metadata.ts';

export interface VerifiedAssertion {
  nameId: string | undefined;
  /** The NameID's Format attribute (transient, persistent, emailAddress…). */
  nameIdFormat: string | undefined;
  issuer: string | undefined;
  inResponseTo: string | undefined;
  attributes: RawAttributes;
  assertionId: string;
  /** AuthnStatement AuthnInstant (ms): when the IdP authenticated the user; undefined when absent. */
  authnInstant: number | undefined;
  /** The newest AuthnStatement's AuthnContextClassRef, as `acr`/`amr` (authentication-context.ts). */
  authnContext: AuthenticationContext;
}

const SAML_REQUEST = 'saml_request';
const SAML_ASSERTION = 'saml_assertion';
const REQUEST_TTL_MS = 10 * 60_000;
/** SAML messages larger than this are refused before parsing (resource exhaustion). */
export const MAX_SAML_RESPONSE_BYTES = 256 * 1024;

/**
 * A SAML 2.0 relationship with one IdP. AuthnRequests are built by saml-authn-request.ts and
 * remembered in storage for the InResponseTo check; responses are checked here
 * (saml-message-checks.ts for status, assertion count and signatures through xml-crypto,
 * saml-assertion.ts for conditions and audience), with Recipient, Destination, InResponseTo and
 * assertion replay across all nodes.
 */
export class SamlConnection {
  constructor(
    private readonly storage: Storage,
    private readonly settings: SamlIdpSettings,
    private readonly sp: ServiceProvider,
    /** The connection's SP keys (AuthnRequest signing, assertion decryption); absent: neither. */
    private readonly keys?: SamlKeySource,
    /** Where the message's signatures are checked (the server's worker threads); default: this thread. */
    private readonly verifier: SamlMessageVerifier = verifyOnThisThread,
  ) {}

  /**
   * The AuthnRequest with our request ID in the IdP's binding: a URL (HTTP-Redirect, deflated,
   * query-signed when signing is on) or the fields of a form to POST (HTTP-POST, enveloped signature).
   */
  async authnRequest(requestId: string, relayState: string, request: RequestOptions = {}): Promise<IdpRequest> {
    try {
      new URL(this.settings.ssoUrl);
    } catch {
      throw new InvalidSsoSettingsError(`the IdP SSO URL "${this.settings.ssoUrl}" is not a valid URL`);
    }
    // Refused where it is set; a value an older version saved is refused here.
    if (hasUnsafeUrlCharacters(this.settings.ssoUrl)) {
      throw new InvalidSsoSettingsError(
        `the IdP SSO URL ${JSON.stringify(this.settings.ssoUrl.slice(0, 200))} contains white space or control characters: set it again as the IdP publishes it (or import its metadata again)`,
      );
    }
    if (this.settings.certificates.length === 0) throw new InvalidSsoSettingsError('no IdP signing certificate is configured');
    let signing: SpKeyMaterial['signing'] | undefined;
    if (signsAuthnRequests(this.settings)) {
      signing = await this.keys?.signing();
      if (!signing) throw new InvalidSsoSettingsError('the IdP wants signed AuthnRequests but no SP signing key is available here');
    }
    const issueInstant = new Date();
    const xml = authnRequestXml({
      id: requestId,
      issueInstant: issueInstant.toISOString(),
      destination: this.settings.ssoUrl,
      issuer: this.sp.entityId,
      acsUrl: this.sp.acsUrl,
      forceAuthn: request.forceAuthn === true,
    });
    // Outstanding until answered (InResponseTo, SAML Profiles §4.1.4.2), on every node through storage.
    await this.storage.upsert({
      kind: SAML_REQUEST,
      id: requestId,
      payload: { issueInstant: issueInstant.toISOString() },
      expiresAt: issueInstant.getTime() + REQUEST_TTL_MS,
    });
    if (this.settings.ssoBinding === 'post') {
      return { binding: 'post', action: this.settings.ssoUrl, fields: await postBindingFields(xml, relayState, signing) };
    }
    return { binding: 'redirect', url: await redirectBindingUrl(this.settings.ssoUrl, xml, relayState, signing) };
  }

  /**
   * Verifies a POSTed SAMLResponse. `solicited` requires InResponseTo to name an outstanding
   * request of ours; IdP-initiated logins pass false and rely on replay protection alone.
   *
   * The message itself is checked by `verifier` (saml-message-verification.ts: one parse, each
   * signature verified once against the configured certificates only, on a worker thread in the
   * server); the checks here read what it verified and add the ones that need storage.
   */
  async verify(samlResponse: string, solicited: boolean): Promise<VerifiedAssertion> {
    if (samlResponse.length > MAX_SAML_RESPONSE_BYTES) throw new SamlResponseError('the SAML response is too large');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw new SamlResponseError('SAMLResponse is not base64');
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlResponseError('DTDs and entity declarations are not allowed');
    if (this.settings.certificates.length === 0) throw new InvalidSsoSettingsError('no IdP signing certificate is configured');
    const task = { xml, certificates: this.settings.certificates, allowRsa15KeyTransport: this.settings.allowRsa15KeyTransport === true };
    let message: VerifiedSamlMessage;
    try {
      message = await this.verifier.verify(task);
    } catch (error) {
      if (!(error instanceof DecryptionKeysNeeded)) throw error;
      // An encrypted assertion, past every check that comes before decryption: only now are the
      // connection's private keys read (and made, the first time), and the message verified again.
      message = await this.verifier.verify({ ...task, decryptionKeys: (await this.keys?.decryptionKeys()) ?? [] });
    }
    const assertion = assertionOf(message);
    // Read once the message is verified (it may have waited for a worker): every time check below uses it.
    const now = Date.now();
    const skewMs = this.settings.clockSkewSeconds * 1000;

    // SAML Profiles §4.1.4.2 / §4.1.4.3: a solicited response answers one outstanding request of
    // ours, used once (shared by every node through storage).
    const inResponseTo = message.inResponseTo;
    if (!solicited && inResponseTo !== null) throw new SamlResponseError('an IdP-initiated response must not answer a request');
    if (solicited) {
      const request = inResponseTo === null ? undefined : await this.storage.consume(SAML_REQUEST, inResponseTo, now);
      if (!request?.consumedNow) throw new SamlResponseError(NOT_OUR_REQUEST);
    }

    checkConditions(message.conditions, this.sp.entityId, now, skewMs);
    // A valid signature alone does not make it our IdP: some IdPs sign for many tenants with one
    // key (the issuer tells them apart).
    if (assertion.issuer !== this.settings.issuer) {
      throw new SamlResponseError(
        `the assertion was issued by "${assertion.issuer?.slice(0, 200) ?? '(no Issuer)'}", not by the configured IdP "${this.settings.issuer}". ` +
          "If this is your IdP, set its entity ID as the issuer in this account's identity provider settings (or import its metadata again)",
      );
    }
    const responseIssuer = message.responseIssuer;
    if (responseIssuer !== undefined && responseIssuer !== this.settings.issuer) {
      throw new SamlResponseError(
        `the response was issued by "${responseIssuer.slice(0, 200)}", not by the configured IdP "${this.settings.issuer}"`,
      );
    }
    const forUs = assertion.bearerConfirmations.filter((c) => c.recipient === this.sp.acsUrl);
    if (forUs.length === 0) {
      throw new SamlResponseError(
        `the assertion's Recipient is not this service's ACS URL: set the IdP application's ACS (reply) URL to ${this.sp.acsUrl}`,
      );
    }
    // SAML Profiles §4.1.4.3, for every response, solicited or not.
    const confirmation = forUs.find(
      (c) => c.notOnOrAfter !== null && now - skewMs < c.notOnOrAfter && (c.notBefore === null || c.notBefore <= now + skewMs),
    );
    if (!confirmation) {
      throw new SamlResponseError(
        forUs.every((c) => c.notOnOrAfter === null)
          ? 'the bearer SubjectConfirmationData has no NotOnOrAfter (SAML Profiles §4.1.4.2): the IdP must bound how long the assertion can be used'
          : 'the assertion is outside its validity window (SubjectConfirmationData NotBefore/NotOnOrAfter; check the clocks)',
      );
    }
    // The signed confirmation, when it names a request, names the one the Response answers.
    if (confirmation.inResponseTo !== null && confirmation.inResponseTo !== inResponseTo) throw new SamlResponseError(NOT_OUR_REQUEST);
    const destination = message.destination;
    if (destination !== null && destination !== this.sp.acsUrl) {
      throw new SamlResponseError(
        `the response's Destination is not this service's ACS URL: set the IdP application's ACS (reply) URL to ${this.sp.acsUrl}`,
      );
    }
    // One-time use of an assertion, across every node (SAML Profiles §4.1.4.5).
    // Remembered for as long as any part of it could still be accepted.
    const keepUntil = Math.max(assertion.notOnOrAfter ?? 0, confirmation.notOnOrAfter!, now + REQUEST_TTL_MS) + skewMs;
    const fresh = await this.storage.insert({
      kind: SAML_ASSERTION,
      // Both are outside text (metadata, a signed assertion): a digest where too long or not storable.
      id: storableKey(`${this.settings.issuer}|${assertion.id}`),
      payload: {},
      expiresAt: keepUntil,
    });
    if (!fresh) throw new SamlResponseError('this assertion has already been used (replay)');

    return {
      nameId: assertion.nameId,
      nameIdFormat: assertion.nameIdFormat,
      issuer: assertion.issuer,
      inResponseTo: inResponseTo ?? undefined,
      attributes: assertion.attributes,
      assertionId: assertion.id,
      authnInstant: assertion.authnInstant ?? undefined,
      authnContext: fromSamlClassRef(assertion.authnContextClassRef ?? undefined),
    };
  }
}

const NOT_OUR_REQUEST =
  'the response does not answer a sign-in request of ours (InResponseTo): start the sign-in again from the desktop; an IdP-initiated sign-in needs it turned on for the account';

export { serviceProviderMetadata } from './sp-metadata.ts';
