import type { ServiceProvider } from '../connections/saml-connection.ts';

/** SPEC: enhanced SSO SP entity `urn:flex:JQ…`, ACS `/login/callback?connection=JQ…`. */
export function enhancedServiceProvider(publicUrl: string, connectionSid: string): ServiceProvider {
  return { entityId: `urn:flex:${connectionSid}`, acsUrl: `${publicUrl}/login/callback?connection=${connectionSid}` };
}

/** SPEC: legacy SSO SP entity `…/v1/Accounts/AC…/saml2/metadata`, ACS `…/v1/Accounts/AC…/saml2`. */
export function legacyServiceProvider(publicUrl: string, accountSid: string): ServiceProvider {
  return { entityId: `${publicUrl}/v1/Accounts/${accountSid}/saml2/metadata`, acsUrl: `${publicUrl}/v1/Accounts/${accountSid}/saml2` };
}
