import type { connectionResource } from '@lanyard/server/admin/resources.ts';
import { fields } from '../output.ts';
import { publicUrlWarning } from '../public-url.ts';

type Connection = ReturnType<typeof connectionResource>;

/**
 * A connection as `lanyard status` and `lanyard sso set` print it: for a SAML IdP its settings,
 * certificates and the SP values to register there; for an OpenID Connect provider its issuer,
 * the client registered there, the scopes, whether a secret is stored (never the secret) and the
 * redirect URI to register there.
 */
export function describeConnection(c: Connection): string {
  return c.oidc ? describeOidcConnection(c, c.oidc) : describeSamlConnection(c);
}

function describeSamlConnection(c: Connection): string {
  return [
    `Connection ${c.sid} (client_id ${c.client_id})`,
    fields([
      ['IdP issuer', c.issuer],
      ['IdP SSO URL', c.sso_url === null ? null : `${c.sso_url} (${c.sso_binding === 'post' ? 'HTTP-POST' : 'HTTP-Redirect'})`],
      ['IdP entity chosen', c.metadata_entity_id],
      ['signed AuthnRequests', c.sign_authn_requests === null ? null : c.sign_authn_requests ? 'yes' : 'no'],
      ['metadata URL', c.metadata_url],
      ['clock skew', c.clock_skew_seconds === null ? null : `${c.clock_skew_seconds} s`],
      ...c.certificates.map((cert, i): [string, string] => [
        `certificate ${i + 1}`,
        `${cert.subject}, valid to ${cert.valid_to} (${cert.days_left} days left)`,
      ]),
      ['SP entity ID', c.service_provider.entity_id],
      ['SP ACS URL', c.service_provider.acs_url],
      ['SP metadata', c.service_provider.metadata_url],
    ]),
    ...[publicUrlWarning(c.service_provider.acs_url)].filter((w) => w !== null),
  ].join('\n');
}

function describeOidcConnection(c: Connection, oidc: NonNullable<Connection['oidc']>): string {
  return [
    `Connection ${c.sid} (client_id ${c.client_id}), OpenID Connect`,
    fields([
      ['IdP issuer', oidc.issuer],
      ['client ID at the IdP', oidc.upstream_client_id],
      ['scopes', oidc.scopes],
      ['client secret', oidc.client_secret_stored ? 'stored (encrypted)' : 'none (public client, PKCE only)'],
      ['redirect URI', `${oidc.redirect_uri}  (register it at the provider)`],
    ]),
    ...[publicUrlWarning(oidc.redirect_uri)].filter((w) => w !== null),
  ].join('\n');
}
