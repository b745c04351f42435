import { SignedXml } from 'xml-crypto';
import {
  DS,
  RSA_SHA256,
  DIGEST_SHA256,
  SAML,
  SAMLP,
  children,
  evilCopy,
  first,
  parse,
  removeSignature,
  responseOf,
  serialize,
  type SigningKey,
} from './saml-messages.ts';

/**
 * Builds the variants of one genuine SAML response that the signature and assertion policy must
 * tell apart (issue 13): the top-level status, the state of each signature position, and how many
 * assertions the tree holds and where. Every change to what a signature covers is made before
 * that signature is computed, so a refusal can be pinned on the rule under test and not on a
 * broken signature; "invalid" signatures are broken on purpose, after signing.
 */

/** A signature position's state: signed with the configured key, broken after signing, absent, or made with another key. */
export type SignatureState = 'valid' | 'invalid' | 'absent' | 'foreign';
export const SIGNATURE_STATES: SignatureState[] = ['valid', 'invalid', 'absent', 'foreign'];

export type StatusVariant = 'Success' | 'Responder/AuthnFailed' | 'Requester/RequestDenied' | 'Responder (no message)';

/** Where a second, unsigned assertion claiming to be the victim is put ('one' adds none; 'none' removes the genuine one). */
export type Placement =
  | 'one'
  | 'none'
  | 'sibling'
  | 'samlp:Extensions'
  | 'saml:Advice'
  | 'ds:Object'
  | 'ds:KeyInfo'
  | 'saml2 prefix'
  | 'foreign namespace'
  | 'EncryptedAssertion';
export const EXTRA_PLACEMENTS: Placement[] = [
  'none',
  'sibling',
  'samlp:Extensions',
  'saml:Advice',
  'ds:Object',
  'ds:KeyInfo',
  'saml2 prefix',
  'foreign namespace',
  'EncryptedAssertion',
];

export interface Variant {
  status: StatusVariant;
  response: SignatureState;
  assertion: SignatureState;
  placement: Placement;
}

/** What the policy says about a variant, and the words a refusal must contain. */
export function expectedOutcome(v: Variant): { accepted: true } | { accepted: false; reason: RegExp } {
  if (v.status !== 'Success')
    return { accepted: false, reason: v.status.startsWith('Requester') ? /status Requester \/ RequestDenied/ : /status Responder/ };
  if (v.placement !== 'one') return { accepted: false, reason: /assertion/ };
  for (const position of [v.response, v.assertion]) {
    if (position === 'invalid') return { accepted: false, reason: /changed after the IdP signed it/ };
    if (position === 'foreign') return { accepted: false, reason: /not made with the configured IdP certificate/ };
  }
  if (v.response === 'absent' && v.assertion === 'absent') return { accepted: false, reason: /no signature/ };
  return { accepted: true };
}

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

function setStatus(doc: Document, status: StatusVariant): void {
  if (status === 'Success') return;
  const [top, second] = status.split(' ')[0]!.split('/') as [string, string | undefined];
  const statusElement = first(doc, SAMLP, 'Status');
  const code = children(statusElement, SAMLP, 'StatusCode')[0]!;
  code.setAttribute('Value', STATUS + top);
  if (second) {
    const nested = doc.createElementNS(SAMLP, 'samlp:StatusCode');
    nested.setAttribute('Value', STATUS + second);
    code.appendChild(nested);
  }
  if (!status.includes('no message')) {
    const message = doc.createElementNS(SAMLP, 'samlp:StatusMessage');
    message.appendChild(doc.createTextNode('The user is not assigned to this application'));
    statusElement.appendChild(message);
  }
}

/** Signs the element with this ID, enveloped, right after its Issuer, with exclusive C14N. */
function signById(xml: string, id: string, key: SigningKey): string {
  const target = `//*[@ID='${id}']`;
  const signer = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  signer.addReference({ xpath: target, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: DIGEST_SHA256 });
  signer.computeSignature(xml, { prefix: 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return signer.getSignedXml();
}

const byId = (doc: Document, id: string): Element => {
  const found = Array.from(doc.getElementsByTagName('*')).find((e) => e.getAttribute('ID') === id);
  if (!found) throw new Error(`no element with ID ${id}`);
  return found;
};

function place(doc: Document, placement: Placement, genuine: Element, victim: string): void {
  const response = responseOf(doc);
  const evil = () => evilCopy(genuine, victim);
  const afterIssuer = (parent: Element, node: Node) => parent.insertBefore(node, children(parent, SAML, 'Issuer')[0]!.nextSibling);
  switch (placement) {
    case 'one':
    case 'ds:Object':
    case 'ds:KeyInfo':
      return; // the last two need a signature first: see addToSignature
    case 'none':
      response.removeChild(genuine);
      return;
    case 'sibling':
      response.appendChild(evil());
      return;
    case 'samlp:Extensions': {
      const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
      extensions.appendChild(evil());
      afterIssuer(response, extensions);
      return;
    }
    case 'saml:Advice': {
      const advice = doc.createElementNS(SAML, 'saml:Advice');
      advice.appendChild(evil());
      genuine.insertBefore(advice, first(genuine, SAML, 'AuthnStatement'));
      return;
    }
    case 'saml2 prefix': {
      const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
      extensions.appendChild(
        parse(
          serialize(evil())
            .replace(/saml:/g, 'saml2:')
            .replace(/xmlns:saml=/g, 'xmlns:saml2='),
        ).documentElement!,
      );
      afterIssuer(response, extensions);
      return;
    }
    case 'foreign namespace': {
      const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
      const foreign = doc.createElementNS('urn:example:not-saml', 'x:Assertion');
      foreign.setAttribute('ID', '_foreign');
      extensions.appendChild(foreign);
      afterIssuer(response, extensions);
      return;
    }
    case 'EncryptedAssertion': {
      const encrypted = doc.createElementNS(SAML, 'saml:EncryptedAssertion');
      encrypted.appendChild(doc.createElementNS('http://www.w3.org/2001/04/xmlenc#', 'xenc:EncryptedData'));
      response.appendChild(encrypted);
      return;
    }
  }
}

/** Hides the evil assertion in a ds:Object or ds:KeyInfo of the first signature (outside what it signs). */
function addToSignature(xml: string, placement: Placement, victim: string, genuineId: string): string {
  if (placement !== 'ds:Object' && placement !== 'ds:KeyInfo') return xml;
  const doc = parse(xml);
  const signature = doc.getElementsByTagNameNS(DS, 'Signature')[0];
  if (!signature) throw new Error('no signature to hide an assertion in');
  const holder =
    placement === 'ds:Object'
      ? signature.appendChild(doc.createElementNS(DS, 'ds:Object'))
      : (children(signature, DS, 'KeyInfo')[0] ?? signature.appendChild(doc.createElementNS(DS, 'ds:KeyInfo')));
  holder.appendChild(evilCopy(byId(doc, genuineId), victim));
  return serialize(doc);
}

/**
 * The variant of `genuineXml` (a genuine response, both signatures removed here), signed with
 * `key` (the configured one) or `foreignKey` as the variant asks.
 */
export function buildVariant(genuineXml: string, v: Variant, keys: { key: SigningKey; foreignKey: SigningKey }, victim: string): string {
  const doc = parse(genuineXml);
  const response = responseOf(doc);
  removeSignature(response);
  const genuine = children(response, SAML, 'Assertion')[0]!;
  removeSignature(genuine);
  const responseId = response.getAttribute('ID')!;
  const assertionId = genuine.getAttribute('ID')!;
  setStatus(doc, v.status);
  place(doc, v.placement, genuine, victim);
  let xml = serialize(doc);
  const keyFor = (state: SignatureState) => (state === 'foreign' ? keys.foreignKey : keys.key);
  if (v.assertion !== 'absent' && v.placement !== 'none') {
    xml = signById(xml, assertionId, keyFor(v.assertion));
    // Changed after signing: the AuthnStatement's SessionIndex, read by no check of its own.
    if (v.assertion === 'invalid') xml = xml.replace(/SessionIndex="([^"]+)"/, 'SessionIndex="$1x"');
  }
  if (v.response !== 'absent') {
    xml = signById(xml, responseId, keyFor(v.response));
    // Changed after signing: the Response's IssueInstant, covered by its signature only.
    if (v.response === 'invalid') {
      xml = xml.replace(/(<samlp:Response[^>]*IssueInstant=")([^"]+)"/, (_, head: string) => `${head}${new Date(Date.now() - 1000).toISOString()}"`);
    }
  }
  return addToSignature(xml, v.placement, victim, assertionId);
}
