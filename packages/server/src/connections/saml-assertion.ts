import { SamlResponseError } from '../errors.ts';
import { emptyAttributes, type RawAttributes } from './profile-mapping.ts';

/**
 * What Lanyard reads from an assertion whose signature (or whose Response's signature) has been
 * verified by `saml-message-checks.ts`: the very element that was checked, from the one parse
 * of the message, never a second parse of the raw text. SAML Core §2.3–2.7, Profiles §4.1.4.
 */

const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface BearerConfirmation {
  recipient: string | null;
  /** ms since the epoch; null when absent, NaN when unreadable (then never inside a window). */
  notBefore: number | null;
  notOnOrAfter: number | null;
  /** The request this confirmation answers (SubjectConfirmationData InResponseTo), if named. */
  inResponseTo: string | null;
}

export interface AssertionContent {
  id: string;
  /** saml:Issuer, trimmed. */
  issuer: string | undefined;
  /** Subject › NameID text as sent (not trimmed: it may be the user's unique ID); undefined when empty or absent. */
  nameId: string | undefined;
  nameIdFormat: string | undefined;
  bearerConfirmations: BearerConfirmation[];
  /** Conditions NotOnOrAfter (ms), null when absent. */
  notOnOrAfter: number | null;
  /** The newest AuthnStatement AuthnInstant (ms), null when absent. */
  authnInstant: number | null;
  /** That AuthnStatement's AuthnContextClassRef (trimmed), null when absent. */
  authnContextClassRef: string | null;
  /** AttributeStatement values that are text; a later Attribute of the same Name replaces an earlier one. */
  attributes: RawAttributes;
}

function children(parent: Element, localName: string): Element[] {
  return Array.from(parent.childNodes).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === SAML_NS && (n as Element).localName === localName,
  );
}

const attribute = (element: Element, name: string): string | null => element.getAttribute(name) || null;
const timeOf = (value: string | null): number | null => (value ? Date.parse(value) : null);
const hasElementChildren = (element: Element) => Array.from(element.childNodes).some((n) => n.nodeType === 1);

/** The text of an AttributeValue; structured (child-element) and empty values are not text. */
function textValue(value: Element): string | undefined {
  if (hasElementChildren(value)) return undefined;
  const text = value.textContent ?? '';
  return text === '' ? undefined : text;
}

function attributesOf(assertion: Element): RawAttributes {
  const out = emptyAttributes();
  for (const statement of children(assertion, 'AttributeStatement')) {
    for (const element of children(statement, 'Attribute')) {
      const name = element.getAttribute('Name');
      const values = children(element, 'AttributeValue');
      if (!name || values.length === 0) continue;
      const texts = values.map(textValue).filter((v): v is string => v !== undefined);
      if (texts.length > 0) out[name] = texts;
      else delete out[name];
    }
  }
  return out;
}

/**
 * Reads a verified `saml:Assertion` element. Throws SamlResponseError when it has no ID (a
 * signed assertion always has one: its signature references it).
 */
export function readAssertion(assertion: Element): AssertionContent {
  const id = assertion.getAttribute('ID');
  if (assertion.localName !== 'Assertion' || !id) throw new SamlResponseError('the verified assertion has no ID');
  const subject = children(assertion, 'Subject')[0];
  const nameIdElement = subject ? children(subject, 'NameID')[0] : undefined;
  const bearerConfirmations = (subject ? children(subject, 'SubjectConfirmation') : [])
    .filter((c) => c.getAttribute('Method') === BEARER)
    .flatMap((c) => children(c, 'SubjectConfirmationData'))
    .map((d) => ({
      recipient: attribute(d, 'Recipient'),
      notBefore: timeOf(attribute(d, 'NotBefore')),
      notOnOrAfter: timeOf(attribute(d, 'NotOnOrAfter')),
      inResponseTo: attribute(d, 'InResponseTo'),
    }));
  const conditions = children(assertion, 'Conditions')[0];
  // The newest AuthnStatement: an assertion may carry one per authentication it vouches for.
  const statements = children(assertion, 'AuthnStatement')
    .map((element) => ({ instant: timeOf(attribute(element, 'AuthnInstant')), element }))
    .filter((s): s is { instant: number; element: Element } => s.instant !== null && !Number.isNaN(s.instant))
    .sort((a, b) => b.instant - a.instant);
  const newest = statements[0]?.element;
  const context = newest ? children(newest, 'AuthnContext')[0] : undefined;
  const classRef = context ? children(context, 'AuthnContextClassRef')[0]?.textContent?.trim() : undefined;
  return {
    id,
    issuer: children(assertion, 'Issuer')[0]?.textContent?.trim(),
    nameId: nameIdElement?.textContent || undefined,
    nameIdFormat: (nameIdElement && attribute(nameIdElement, 'Format')) ?? undefined,
    bearerConfirmations,
    notOnOrAfter: conditions ? timeOf(attribute(conditions, 'NotOnOrAfter')) : null,
    authnInstant: statements[0]?.instant ?? null,
    authnContextClassRef: classRef || null,
    attributes: attributesOf(assertion),
  };
}

/** An assertion's `Conditions` as sent (SAML Core §2.5), for `checkConditions`: plain data. */
export interface ConditionsContent {
  /** How many Conditions elements the assertion carries (at most one is allowed). */
  count: number;
  /** The NotBefore and NotOnOrAfter attributes as sent; null when absent. */
  notBefore: string | null;
  notOnOrAfter: string | null;
  /** The Audience values of each AudienceRestriction. */
  audienceRestrictions: string[][];
}

/** Reads the assertion's Conditions (the first one's attributes and restrictions, and how many there are). */
export function readConditions(assertion: Element): ConditionsContent {
  const all = children(assertion, 'Conditions');
  const conditions = all[0];
  return {
    count: all.length,
    notBefore: conditions ? attribute(conditions, 'NotBefore') : null,
    notOnOrAfter: conditions ? attribute(conditions, 'NotOnOrAfter') : null,
    audienceRestrictions: conditions
      ? children(conditions, 'AudienceRestriction').map((r) => children(r, 'Audience').map((a) => a.textContent ?? ''))
      : [],
  };
}

/**
 * SAML Core §2.5: at most one `Conditions`; its NotBefore/NotOnOrAfter hold at `now` within
 * `skewMs`; and (§2.5.1.4) every AudienceRestriction names `audience` (our SP entity ID). An
 * assertion without an AudienceRestriction is refused: it would be good at any SP.
 * Throws SamlResponseError (45010) naming the fix.
 */
export function checkConditions(conditions: ConditionsContent, audience: string, now: number, skewMs: number): void {
  if (conditions.count > 1)
    throw new SamlResponseError('the assertion carries more than one Conditions element (SAML Core §2.5); the message was altered');
  const window = (name: 'NotBefore' | 'NotOnOrAfter'): number | null => {
    const value = name === 'NotBefore' ? conditions.notBefore : conditions.notOnOrAfter;
    const time = timeOf(value);
    if (time !== null && Number.isNaN(time)) {
      throw new SamlResponseError(`the assertion is outside its validity window (Conditions ${name} "${value!.slice(0, 50)}" is not a date)`);
    }
    return time;
  };
  const notBefore = window('NotBefore');
  const notOnOrAfter = window('NotOnOrAfter');
  if (notBefore !== null && now + skewMs < notBefore) {
    throw new SamlResponseError('the assertion is outside its validity window (Conditions NotBefore is still ahead; check the clocks)');
  }
  if (notOnOrAfter !== null && now - skewMs >= notOnOrAfter) {
    throw new SamlResponseError('the assertion is outside its validity window (Conditions NotOnOrAfter has passed; check the clocks)');
  }
  const fix = `set the IdP application's entity ID (Audience) to ${audience}`;
  if (conditions.audienceRestrictions.length === 0)
    throw new SamlResponseError(`the assertion has no audience restriction, so it is not addressed to this service provider: ${fix}`);
  for (const audiences of conditions.audienceRestrictions) {
    if (!audiences.includes(audience)) {
      const received = audiences.map((a) => `"${a.slice(0, 200)}"`).join(', ') || 'none';
      throw new SamlResponseError(`the assertion's audience is not this service provider: ${fix} (received ${received})`);
    }
  }
}
