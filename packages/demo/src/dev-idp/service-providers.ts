/** A service provider the IdP can send IdP-initiated (unsolicited) responses to. */
export interface ServiceProviderRegistration {
  /** The SP's entity ID: the Audience of the assertions it receives. */
  entityId: string;
  /** Where responses are POSTed (HTTP-POST binding). */
  acsUrl: string;
}

/**
 * The SPs known by entity ID. SP-initiated logins need no registration: the dev IdP trusts the
 * AuthnRequest's Issuer and AssertionConsumerServiceURL (see authn-request.ts). An unsolicited
 * response has no request to read those from, so its SP must be registered first.
 */
export class ServiceProviderRegistry {
  readonly #byEntityId = new Map<string, ServiceProviderRegistration>();

  register(registration: ServiceProviderRegistration): void {
    const acs = new URL(registration.acsUrl);
    if (acs.protocol !== 'http:' && acs.protocol !== 'https:') throw new Error(`the ACS URL must be http(s): ${registration.acsUrl}`);
    if (!registration.entityId) throw new Error('the SP entity ID is empty');
    this.#byEntityId.set(registration.entityId, { entityId: registration.entityId, acsUrl: registration.acsUrl });
  }

  find(entityId: string): ServiceProviderRegistration | undefined {
    return this.#byEntityId.get(entityId);
  }

  list(): ServiceProviderRegistration[] {
    return [...this.#byEntityId.values()];
  }
}
