import samlify from 'samlify';
import { inflateRawSync } from 'node:zlib';
import type { SamlifyIdentityProvider } from './identity-provider.ts';

/** The two bindings the IdP's metadata advertises for its SSO service. */
export type RequestBinding = 'redirect' | 'post';

export interface AuthnRequestInfo {
  id: string;
  /** The requesting SP's entity ID: the Audience of the response. */
  issuer: string;
  /** Absent when the SP names its ACS by index or leaves it to metadata. */
  acsUrl?: string;
}

/** Thrown for a SAMLRequest the IdP cannot read; the page shows the message to the developer. */
export class AuthnRequestError extends Error {
  override readonly name = 'AuthnRequestError';
}

const MAX_REQUEST_BYTES = 256 * 1024;

// samlify's parser wants the requesting SP, but consults it only to verify signed requests, and
// this IdP requires none (WantAuthnRequestsSigned="false"). Who asked is only known once the
// request is read, so a placeholder stands in for "any SP on this machine".
const ANY_SERVICE_PROVIDER = samlify.ServiceProvider({ entityID: 'urn:lanyard:dev-idp:any-service-provider' });

/**
 * Reads an AuthnRequest (HTTP-Redirect: deflated then base64; HTTP-POST: base64) with samlify.
 *
 * A development IdP trusts the request's Issuer and AssertionConsumerServiceURL: it answers any
 * SP that can reach it, and the sign-in page says so. A production IdP answers only the SPs
 * registered with it, at the ACS URLs registered for them.
 */
export async function readAuthnRequest(idp: SamlifyIdentityProvider, binding: RequestBinding, samlRequest: string): Promise<AuthnRequestInfo> {
  if (!samlRequest) throw new AuthnRequestError('The SAMLRequest parameter is missing.');
  let xml: string;
  try {
    const bytes = Buffer.from(samlRequest, 'base64');
    // The POST binding carries plain base64 XML, but node-saml deflates it there too unless told
    // otherwise (skipRequestCompression): read a deflated POST request as the Redirect binding would.
    if (binding === 'post' && !bytes.toString('utf8').trimStart().startsWith('<')) binding = 'redirect';
    // Inflation is bounded, so that a small request cannot inflate to gigabytes.
    xml = (binding === 'redirect' ? inflateRawSync(bytes, { maxOutputLength: MAX_REQUEST_BYTES }) : bytes).toString('utf8');
  } catch (error) {
    throw new AuthnRequestError(`The SAMLRequest is not a readable AuthnRequest (${(error as Error).message}).`);
  }
  // Entity expansion has no place in a SAML message (billion laughs): refuse any DTD before parsing.
  if (/<!DOCTYPE/i.test(xml)) throw new AuthnRequestError('The AuthnRequest carries a DTD; SAML messages must not.');
  let extract: Record<string, unknown>;
  try {
    const request = binding === 'redirect' ? { query: { SAMLRequest: samlRequest } } : { body: { SAMLRequest: samlRequest } };
    ({ extract } = await idp.parseLoginRequest(ANY_SERVICE_PROVIDER, binding, request));
  } catch (error) {
    throw new AuthnRequestError(`The SAMLRequest is not a readable AuthnRequest (${(error as Error).message}).`);
  }
  const request = (extract.request ?? {}) as { id?: string; assertionConsumerServiceUrl?: string };
  const issuer = typeof extract.issuer === 'string' ? extract.issuer.trim() : undefined;
  if (!request.id || !issuer) throw new AuthnRequestError('The AuthnRequest lacks an ID or an Issuer.');
  return { id: request.id, issuer, ...(request.assertionConsumerServiceUrl ? { acsUrl: request.assertionConsumerServiceUrl } : {}) };
}
