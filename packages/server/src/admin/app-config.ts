import { hasIdentityProvider, type Account, type Connection } from '../accounts/model.ts';
import { SET_OIDC_IDP, SET_SAML_IDP } from './setup-report.ts';

/** Stands in for the desktop's address until the account has a Trusted URL. */
export const REDIRECT_PLACEHOLDER = 'https://desktop.example.com/';

/**
 * The `appConfig.js` a self-hosted desktop needs for this account (SPEC "appConfig.js"): the
 * `oauth` object selects enhanced SSO, its absence legacy SSO. The top-level `serviceBaseUrl`
 * points our SDK at this server (the real Flex UI reads it only there), and the URL overrides send
 * the real Flex UI's sign-in calls here rather than to Twilio's hosts (docs/flex-ui.md). One
 * snippet per mode the account accepts.
 */
export function appConfigResource(account: Account, connection: Connection | undefined, publicUrl: string) {
  const redirectUrl = account.defaultRedirectUrl ?? account.trustedUrls[0] ?? null;
  const loginPopup = account.loginPopup ?? false;
  const notes: string[] = [];
  if (redirectUrl === null) notes.push(`No Trusted URL yet: replace ${REDIRECT_PLACEHOLDER} with the desktop's address once it is a Trusted URL.`);

  let enhanced = null;
  if (account.ssoMode !== 'legacy') {
    if (connection) {
      const config = {
        serviceBaseUrl: publicUrl,
        sso: { accountSid: account.sid, loginPopup },
        oauth: {
          connection: connection.sid,
          clientId: connection.clientId,
          redirectUrl: redirectUrl ?? REDIRECT_PLACEHOLDER,
          authorizeUrl: `${publicUrl}/v1/Flex/Authorize`,
          tokenUrl: `${publicUrl}/v1/Flex/OAuth/Tokens`,
        },
      };
      enhanced = { app_config: config, script: script(account, config, 'enhanced SSO') };
    } else {
      notes.push('Enhanced SSO needs a connection: set the IdP first.');
    }
    if (connection && !hasIdentityProvider(connection)) {
      notes.push(`Enhanced SSO needs an IdP on connection ${connection.sid}: set the IdP first (${SET_SAML_IDP} or ${SET_OIDC_IDP}).`);
    }
  }
  let legacy = null;
  if (account.ssoMode !== 'enhanced') {
    const config = {
      serviceBaseUrl: publicUrl,
      sso: {
        accountSid: account.sid,
        loginPopup,
        ...(redirectUrl ? { redirectUrl } : {}),
        loginUrl: `${publicUrl}/v1/Accounts/${account.sid}/authenticate`,
        tokenRefreshUrl: `${publicUrl}/v1/Accounts/${account.sid}/Tokens/refresh`,
      },
    };
    legacy = { app_config: config, script: script(account, config, 'legacy SSO') };
    if (connection?.oidc) {
      notes.push(
        `Legacy SSO speaks SAML only, and this account signs in through the OpenID Connect provider ${connection.oidc.issuer}: the legacy snippet works once a SAML IdP is set (${SET_SAML_IDP}, which replaces the provider).`,
      );
    }
  }
  return {
    account_sid: account.sid,
    lookup_url: `${publicUrl}/v1/Flex/Authentication/Config?AccountSid=${account.sid}`,
    enhanced,
    legacy,
    notes,
  };
}

function script(account: Account, config: object, flavour: string): string {
  // Any JavaScript line terminator in the name would end the comment and start code.
  return (
    `// appConfig.js, ${flavour}: "${account.friendlyName.replace(/[\r\n\u2028\u2029]/g, ' ')}" (${account.sid})\n` +
    `window.appConfig = ${JSON.stringify(config, null, 2)};\n`
  );
}
