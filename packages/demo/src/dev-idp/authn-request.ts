import { DOMParser } from '@xmldom/xmldom';
import { inflateRawSync } from 'node:zlib';

export interface AuthnRequestInfo {
  id: string;
  issuer: string;
  acsUrl: string;
}

const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

/**
 * Reads an HTTP-Redirect AuthnRequest (deflated, base64). A development IdP trusts the request's
 * Issuer and AssertionConsumerServiceURL: it answers any SP on this machine. A production IdP
 * would only answer service providers registered with it.
 */
export function readAuthnRequest(samlRequest: string): AuthnRequestInfo {
  const xml = inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
  if (/<!DOCTYPE/i.test(xml)) throw new Error('DTDs are not accepted');
  const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
  if (!root || root.localName !== 'AuthnRequest') throw new Error('not an AuthnRequest');
  const id = root.getAttribute('ID');
  const acsUrl = root.getAttribute('AssertionConsumerServiceURL');
  const issuer = root.getElementsByTagNameNS(SAML, 'Issuer')[0]?.textContent?.trim();
  if (!id || !acsUrl || !issuer) throw new Error('the AuthnRequest lacks ID, Issuer or AssertionConsumerServiceURL');
  return { id, issuer, acsUrl };
}
