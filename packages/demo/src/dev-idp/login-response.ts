import samlify from 'samlify';
import { randomBytes } from 'node:crypto';
import { ATTRIBUTES, EMAIL_FORMAT, createServiceProvider, type SamlifyIdentityProvider } from './identity-provider.ts';
import type { DevUser } from './users.ts';

export interface LoginResponseOptions {
  user: DevUser;
  /** Where the response goes: SubjectConfirmationData Recipient (and Destination unless given). */
  acsUrl: string;
  /** The SP's entity ID (Audience). */
  audience: string;
  /** The AuthnRequest ID; omitted for an IdP-initiated (unsolicited) response. */
  inResponseTo?: string;
  /** The Response's Destination; defaults to `acsUrl` (tests set another to check the SP refuses it). */
  destination?: string;
  relayState?: string;
  /** Sign the Response element (default true). */
  signResponse?: boolean;
  /** Sign the Assertion element (default true). With both false the response is unsigned. */
  signAssertion?: boolean;
  /** Validity of the assertion, in seconds from now (default 300). */
  lifetimeSeconds?: number;
}

/**
 * The fields the HTTP-POST binding carries to the ACS (`SAMLResponse` is the base64 Response XML).
 * A type alias, not an interface, so that it passes where a `Record<string, string>` form is wanted.
 */
export type SignedResponse = { SAMLResponse: string; RelayState?: string };

const AUTHN_STATEMENT =
  '<saml:AuthnStatement AuthnInstant="{AuthnInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext>' +
  '<saml:AuthnContextClassRef>{AuthnContextClassRef}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>';
const PASSWORD_PROTECTED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
/** Lanyard allows 2 minutes of clock skew by default; starting 5 minutes back covers any skew it allows. */
const NOT_BEFORE_MS = 5 * 60_000;

const newId = () => '_' + randomBytes(20).toString('hex');
const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A SAML Response for `options.user`, rendered from the samlify IdP's login-response template
 * and signed by samlify as asked (Assertion and Response by default).
 */
export async function createLoginResponse(idp: SamlifyIdentityProvider, options: LoginResponseOptions): Promise<SignedResponse> {
  const signAssertion = options.signAssertion ?? true;
  const signResponse = options.signResponse ?? true;
  const relay = options.relayState ? { RelayState: options.relayState } : {};
  const render = (template: string) => renderTemplate(template, idp.entityMeta.getEntityID(), options);

  if (!signAssertion && !signResponse) {
    // samlify always signs something (see createServiceProvider); a wholly unsigned response
    // exists only so tests can check that an SP refuses it, so it skips samlify's signing step.
    const template = idp.entitySetting.loginResponseTemplate?.context;
    if (!template) throw new Error('the samlify IdP has no login-response template');
    return { SAMLResponse: Buffer.from(render(template), 'utf8').toString('base64'), ...relay };
  }

  const sp = createServiceProvider(options.audience, options.acsUrl, { signAssertion, signResponse });
  // With customTagReplacement samlify ignores the request info and the user (the template gets
  // every value from render) and returns a fresh ID of its own, not the Response's: don't use it.
  const result = await idp.createLoginResponse(
    sp,
    { extract: {} },
    'post',
    { email: options.user.id },
    {
      relayState: options.relayState,
      customTagReplacement: (template) => ({ id: '', context: render(template) }),
    },
  );
  return { SAMLResponse: result.context, ...relay };
}

function renderTemplate(template: string, issuer: string, options: LoginResponseOptions): string {
  const { user } = options;
  const now = new Date();
  const notOnOrAfter = new Date(now.getTime() + (options.lifetimeSeconds ?? 300) * 1000).toISOString();
  const values: Record<string, string | undefined> = {
    ID: newId(),
    AssertionID: newId(),
    IssueInstant: now.toISOString(),
    Issuer: issuer,
    Destination: options.destination ?? options.acsUrl,
    // undefined makes samlify drop both InResponseTo attributes: an unsolicited response has none.
    InResponseTo: options.inResponseTo,
    StatusCode: samlify.Constants.StatusCode.Success,
    NameIDFormat: EMAIL_FORMAT,
    NameID: user.id,
    SubjectRecipient: options.acsUrl,
    SubjectConfirmationDataNotOnOrAfter: notOnOrAfter,
    ConditionsNotBefore: new Date(now.getTime() - NOT_BEFORE_MS).toISOString(),
    ConditionsNotOnOrAfter: notOnOrAfter,
    Audience: options.audience,
    AuthnInstant: now.toISOString(),
    SessionIndex: newId(),
    AuthnContextClassRef: user.password === undefined ? UNSPECIFIED : PASSWORD_PROTECTED,
  };
  const attributeValues: Record<(typeof ATTRIBUTES)[number]['placeholder'], string[]> = {
    attrFullName: [user.full_name],
    attrEmail: [user.email],
    attrRoles: user.roles,
  };
  // samlify fills one {Tag} after another, so a value holding "{Audience}" would be filled in
  // turn. No real value needs braces; refuse them rather than render a different message.
  for (const value of [...Object.values(values), ...Object.values(attributeValues).flat()]) {
    if (value !== undefined && /[{}]/.test(value)) throw new Error(`the dev IdP does not send values containing { or }: ${value}`);
  }

  let xml = samlify.SamlLib.replaceTagsByValue(template.replace('{AuthnStatement}', AUTHN_STATEMENT), values);
  for (const { placeholder } of ATTRIBUTES) xml = fillAttribute(xml, placeholder, attributeValues[placeholder]);
  const left = /\{[A-Za-z]+\}/.exec(xml);
  if (left) throw new Error(`the login-response template still holds ${left[0]} (did samlify's template change?)`);
  return xml;
}

/**
 * samlify's attribute template has room for one value; a multi-valued attribute (roles) gets one
 * AttributeValue element per value, as SAML intends, and an empty one is left out entirely.
 */
function fillAttribute(xml: string, placeholder: string, values: string[]): string {
  const pattern = new RegExp(
    `(<saml:Attribute\\b[^>]*>)(<saml:AttributeValue\\b[^>]*>)\\{${placeholder}\\}(</saml:AttributeValue>)(</saml:Attribute>)`,
  );
  if (!pattern.test(xml)) throw new Error(`the login-response template has no attribute value {${placeholder}}`);
  return xml.replace(pattern, (_whole, open: string, valueOpen: string, valueClose: string, close: string) =>
    values.length === 0 ? '' : open + values.map((v) => valueOpen + escapeXml(v) + valueClose).join('') + close,
  );
}
