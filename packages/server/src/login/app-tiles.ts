import type { Account } from '../accounts/model.ts';
import { isCoveredBy } from '../accounts/trusted-urls.ts';
import { MAX_SAML_RESPONSE_BYTES } from '../connections/saml-connection.ts';
import { InvalidSsoSettingsError } from '../errors.ts';

const SAMLP_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
/** Prefix of the RelayState of our own enhanced sign-ins (login requests). */
export const LOGIN_RELAY_STATE_PREFIX = 'lr_';

/**
 * An app-tile click (Okta dashboard, My Apps) posts an unsolicited Response — no InResponseTo —
 * with no RelayState or the IdP's own default RelayState. Read only to route the browser: the
 * message is neither verified nor trusted here, and nothing is issued from it. The XML parser is
 * loaded only for such a message (our own sign-ins' RelayState is told apart first).
 */
export async function isAppTileResponse(samlResponse: string, relayState: string | undefined): Promise<boolean> {
  if (relayState?.startsWith(LOGIN_RELAY_STATE_PREFIX)) return false;
  if (samlResponse.length > MAX_SAML_RESPONSE_BYTES || !/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) return false;
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return false;
  const { DOMParser } = await import('@xmldom/xmldom');
  const root = new DOMParser({ errorHandler: { warning: () => undefined, error: () => undefined } }).parseFromString(xml, 'text/xml').documentElement;
  return root?.namespaceURI === SAMLP_NS && root.localName === 'Response' && !root.getAttribute('InResponseTo');
}

/**
 * Where an app-tile click goes on an enhanced-SSO connection. Enhanced SSO ends in an
 * authorization code for a desktop that began the sign-in with PKCE, so an unsolicited assertion
 * cannot finish one (and accepting it would be login CSRF). The browser is sent to the Default
 * redirect URL instead: the desktop there starts an ordinary sign-in, which the IdP session the
 * tile click proved completes without a password prompt.
 *
 * @throws InvalidSsoSettingsError (70251) when there is no Default redirect URL or no Trusted URL covers it.
 */
export function appTileLanding(account: Account): string {
  if (!account.defaultRedirectUrl) {
    throw new InvalidSsoSettingsError(
      "an app tile at the IdP was clicked (an IdP-initiated response), but the account has no Default redirect URL to send the agent to. Set it to the desktop's URL (lanyard redirect-url set), or hide the app tile at the IdP",
    );
  }
  // Checked again where the browser is sent: a Default redirect URL no Trusted URL covers is refused.
  if (!isCoveredBy(account.defaultRedirectUrl, account.trustedUrls)) {
    throw new InvalidSsoSettingsError(
      `an app tile at the IdP was clicked (an IdP-initiated response), but the Default redirect URL ${account.defaultRedirectUrl} is not under any of the account's Trusted URLs. Add a Trusted URL that covers it (lanyard trusted-urls add ${account.sid} <URL>) or set another Default redirect URL (lanyard redirect-url set)`,
    );
  }
  return account.defaultRedirectUrl;
}
