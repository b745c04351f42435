import type { SamlConfig } from '@node-saml/node-saml';
import type { SamlIdpSettings } from '../accounts/model.ts';
import { InvalidSsoSettingsError } from '../errors.ts';
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

/**
 * node-saml options for the AuthnRequest: binding, ForceAuthn and, when the connection signs,
 * the signing key. HTTP-Redirect gets the query signature (`SigAlg`, `Signature`, bindings
 * §3.4.4.1); HTTP-POST an enveloped signature inside the request, which is sent undeflated
 * (bindings §3.5.4).
 */
export function authnRequestOptions(
  settings: SamlIdpSettings,
  signing: SpKeyMaterial['signing'] | undefined,
  request: RequestOptions,
): Partial<SamlConfig> {
  const post = settings.ssoBinding === 'post';
  const options: Partial<SamlConfig> = {
    authnRequestBinding: post ? 'HTTP-POST' : 'HTTP-Redirect',
    skipRequestCompression: post,
    forceAuthn: request.forceAuthn === true,
  };
  if (!signsAuthnRequests(settings)) return options;
  if (!signing) throw new InvalidSsoSettingsError('the IdP wants signed AuthnRequests but no SP signing key is available here');
  return {
    ...options,
    privateKey: signing.privateKeyPem,
    publicCert: signing.certificatePem,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
  };
}
