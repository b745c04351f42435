import { InvalidParameterError } from '../errors.ts';
import { normalizeCertificate } from './certificates.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const MAX_METADATA_BYTES = 1_000_000;
/** Federation metadata (InCommon, eduGAIN) lists thousands of entities; an error names this many. */
const LISTED_ENTITIES = 20;

export interface ImportedIdpMetadata {
  issuer: string;
  ssoUrl: string;
  /** HTTP-Redirect when the IdP offers it, else HTTP-POST. */
  ssoBinding: 'redirect' | 'post';
  certificates: string[];
  /** `IDPSSODescriptor WantAuthnRequestsSigned="true"`: the IdP accepts signed AuthnRequests only. */
  wantAuthnRequestsSigned: boolean;
}

export interface MetadataChoice {
  /** In federation metadata (`EntitiesDescriptor`), which IdP entity to use. */
  entityId?: string | null;
}

/** Says what a document that is not SAML metadata looks like, so that the admin fixes the URL. */
export function describeNonMetadata(text: string): string | undefined {
  const head = text.slice(0, 2000).trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || /^<html[\s>]/.test(head) || (head.includes('<html') && head.includes('<body')))
    return 'an HTML page, not SAML metadata (a sign-in or portal page?). Use the URL of the IdP\'s federation metadata XML (for example ".../FederationMetadata/2007-06/FederationMetadata.xml" or ".../saml/metadata").';
  if (head.startsWith('{') || head.startsWith('['))
    return 'a JSON document, not SAML metadata (an OpenID Connect discovery document? For OpenID Connect providers set up an OIDC connection instead).';
  if (head === '') return 'an empty document.';
  return undefined;
}

/** The metadata parsed (@xmldom/xmldom, loaded on first use: not on a node's start-up path). */
async function parse(xml: string): Promise<Document> {
  if (xml.length > MAX_METADATA_BYTES) throw new InvalidParameterError('The IdP metadata is larger than 1 MB.');
  const other = describeNonMetadata(xml);
  if (other) throw new InvalidParameterError(`The IdP metadata is ${other}`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new InvalidParameterError('The IdP metadata contains a DTD or entity declarations, which are not allowed.');
  const { DOMParser } = await import('@xmldom/xmldom');
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => undefined, error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) },
  }).parseFromString(xml, 'text/xml');
  if (errors.length > 0 || !doc.documentElement)
    throw new InvalidParameterError(`The IdP metadata is not well-formed XML: ${errors[0] ?? 'empty document'}`);
  return doc;
}

/** Every entity of the document that describes an identity provider (has an IDPSSODescriptor). */
function idpEntities(doc: Document): Element[] {
  const root = doc.documentElement!;
  const entities =
    root.namespaceURI === MD && root.localName === 'EntityDescriptor' ? [root] : Array.from(doc.getElementsByTagNameNS(MD, 'EntityDescriptor'));
  return entities.filter((e) => e.getElementsByTagNameNS(MD, 'IDPSSODescriptor').length > 0);
}

/** The entity IDs of the identity providers in `xml` (one, or many in federation metadata). */
export async function listIdpEntityIds(xml: string): Promise<string[]> {
  return idpEntities(await parse(xml)).map((e) => e.getAttribute('entityID') ?? '');
}

function chooseEntity(doc: Document, choice: MetadataChoice): Element {
  const root = doc.documentElement!;
  if (root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor'))
    throw new InvalidParameterError(
      `The document is not SAML metadata: its root element is <${root.tagName.slice(0, 100)}>, not md:EntityDescriptor.`,
    );
  const idps = idpEntities(doc);
  if (choice.entityId) {
    const chosen = idps.find((e) => e.getAttribute('entityID') === choice.entityId);
    if (chosen) return chosen;
    throw new InvalidParameterError(`The metadata has no identity provider with entity ID "${choice.entityId.slice(0, 300)}". ${listing(idps)}`);
  }
  if (idps.length === 1) return idps[0]!;
  if (idps.length === 0) {
    const others = Array.from(doc.getElementsByTagNameNS(MD, 'EntityDescriptor')).length;
    throw new InvalidParameterError(
      `The metadata describes no identity provider (no IDPSSODescriptor${others > 0 ? `; its ${others} entit${others === 1 ? 'y is a service provider' : 'ies are service providers'}` : ''}). Use the IdP's metadata, not a service provider's.`,
    );
  }
  throw new InvalidParameterError(
    `The metadata describes ${idps.length} identity providers (federation metadata); choose one by its entity ID (entityId in the admin API, --entity-id in the CLI). ${listing(idps)}`,
  );
}

function listing(idps: Element[]): string {
  if (idps.length === 0) return 'It lists no identity provider.';
  const ids = idps.slice(0, LISTED_ENTITIES).map((e) => `"${(e.getAttribute('entityID') ?? '').slice(0, 200)}"`);
  return `Identity providers found: ${ids.join(', ')}${idps.length > LISTED_ENTITIES ? ` and ${idps.length - LISTED_ENTITIES} more` : ''}.`;
}

/**
 * Reads an IdP's SAML metadata: entity ID, the SSO endpoint (HTTP-Redirect preferred, HTTP-POST
 * otherwise), whether it wants signed AuthnRequests, and every signing certificate (several
 * during a rollover). Federation metadata needs `choice.entityId` unless it holds one IdP.
 * DTDs are refused outright (XXE, entity expansion).
 */
export async function parseIdpMetadata(xml: string, choice: MetadataChoice = {}): Promise<ImportedIdpMetadata> {
  const entity = chooseEntity(await parse(xml), choice);
  const issuer = entity.getAttribute('entityID');
  if (!issuer) throw new InvalidParameterError('The IdP metadata EntityDescriptor has no entityID.');
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0]!;

  const services = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService'));
  const redirect = services.find((s) => s.getAttribute('Binding') === REDIRECT && s.getAttribute('Location'));
  const post = services.find((s) => s.getAttribute('Binding') === POST && s.getAttribute('Location'));
  const service = redirect ?? post;
  if (!service) {
    const offered = services.map((s) => s.getAttribute('Binding') ?? '(none)').join(', ') || 'none';
    throw new InvalidParameterError(
      `The IdP metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding (bindings offered: ${offered.slice(0, 300)}).`,
    );
  }

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
  return {
    issuer,
    ssoUrl: service.getAttribute('Location')!,
    ssoBinding: redirect ? 'redirect' : 'post',
    certificates,
    wantAuthnRequestsSigned: idp.getAttribute('WantAuthnRequestsSigned') === 'true',
  };
}
