import { DOMParser } from '@xmldom/xmldom';
import { InvalidParameterError } from '../errors.ts';
import { normalizeCertificate } from './certificates.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const MAX_METADATA_BYTES = 1_000_000;

export interface ImportedIdpMetadata {
  issuer: string;
  ssoUrl: string;
  certificates: string[];
}

/**
 * Reads an IdP's SAML metadata: entity ID, the HTTP-Redirect SSO endpoint and every signing
 * certificate (several during a rollover). DTDs are refused outright (XXE, entity expansion).
 */
export function parseIdpMetadata(xml: string): ImportedIdpMetadata {
  if (xml.length > MAX_METADATA_BYTES) throw new InvalidParameterError('The IdP metadata is larger than 1 MB.');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new InvalidParameterError('The IdP metadata contains a DTD or entity declarations, which are not allowed.');
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => undefined, error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) },
  }).parseFromString(xml, 'text/xml');
  if (errors.length > 0 || !doc.documentElement)
    throw new InvalidParameterError(`The IdP metadata is not well-formed XML: ${errors[0] ?? 'empty document'}`);
  const entity = doc.documentElement.localName === 'EntityDescriptor' ? doc.documentElement : doc.getElementsByTagNameNS(MD, 'EntityDescriptor')[0];
  if (!entity || entity.namespaceURI !== MD) throw new InvalidParameterError('The IdP metadata has no md:EntityDescriptor.');
  const issuer = entity.getAttribute('entityID');
  if (!issuer) throw new InvalidParameterError('The IdP metadata EntityDescriptor has no entityID.');
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0];
  if (!idp) throw new InvalidParameterError('The metadata describes no identity provider (no IDPSSODescriptor).');

  const services = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService'));
  const redirect = services.find((s) => s.getAttribute('Binding') === REDIRECT);
  const ssoUrl = redirect?.getAttribute('Location');
  if (!ssoUrl) throw new InvalidParameterError('The IdP metadata has no SingleSignOnService with the HTTP-Redirect binding.');

  const certificates: string[] = [];
  for (const key of Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))) {
    const use = key.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const cert of Array.from(key.getElementsByTagNameNS(DS, 'X509Certificate'))) {
      const pem = normalizeCertificate(cert.textContent ?? '');
      if (!certificates.includes(pem)) certificates.push(pem);
    }
  }
  if (certificates.length === 0) throw new InvalidParameterError('The IdP metadata has no signing certificate (KeyDescriptor use="signing").');
  return { issuer, ssoUrl, certificates };
}
