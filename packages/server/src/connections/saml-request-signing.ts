import type { SamlIdpSettings } from '../accounts/model.ts';
import type { SpKeyMaterial } from './sp-keys.ts';

/**
 * The SP keys a SAML exchange may use, opened only when needed (a connection that neither signs
 * nor receives encrypted assertions never has its keys unsealed).
 */
export interface SamlKeySource {
  decryptionKeys(): Promise<string[]>;
  signing(): Promise<SpKeyMaterial['signing']>;
}

/** Per-sign-in wishes carried into the AuthnRequest. */
export interface RequestOptions {
  /** `ForceAuthn="true"` (SAML core §3.4.1): the IdP must authenticate the user afresh (OIDC `prompt=login`, `max_age`). */
  forceAuthn?: boolean;
}

/** How the browser carries the AuthnRequest to the IdP (SAML bindings §3.4, §3.5). */
export type IdpRequest = { binding: 'redirect'; url: string } | { binding: 'post'; action: string; fields: Record<string, string> };

/** Whether this connection signs its AuthnRequests: the admin's choice, else what the IdP's metadata asks. */
export function signsAuthnRequests(settings: SamlIdpSettings): boolean {
  return settings.signAuthnRequests ?? settings.wantAuthnRequestsSigned ?? false;
}
