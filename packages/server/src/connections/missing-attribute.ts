import type { Connection } from '../accounts/model.ts';
import { MissingAttributeError } from '../errors.ts';
import { missingScopeCause } from './oidc-scopes.ts';

const MAPPED_FIELDS = ['full_name', 'email', 'roles'] as const;

/**
 * The names the connection looks for to find `attribute` (a profile field through the mapping,
 * the OIDC `sub` for the unique id, or the attribute a unique-id policy names).
 */
export function lookedForOf(attribute: string, connection: Pick<Connection, 'mapping' | 'protocol'>): string[] {
  if ((MAPPED_FIELDS as readonly string[]).includes(attribute)) return connection.mapping[attribute as (typeof MAPPED_FIELDS)[number]];
  if (attribute === 'NameID') return [connection.protocol === 'oidc' ? 'sub' : 'NameID'];
  return [attribute];
}

/**
 * A missing attribute (45050) in the connection's words: claim and "ID token or userinfo" for
 * OpenID Connect, assertion for SAML, and for OIDC the scope the connection does not request
 * when that is why the provider left the claim out (OIDC Core §5.4). Other errors pass unchanged.
 */
export function explainForConnection(error: unknown, connection: Pick<Connection, 'sid' | 'mapping' | 'protocol' | 'oidc' | 'accountSid'>): unknown {
  if (!(error instanceof MissingAttributeError)) return error;
  const cause =
    connection.protocol === 'oidc' && connection.oidc
      ? missingScopeCause(connection.oidc, lookedForOf(error.attribute, connection), connection.accountSid)
      : null;
  return new MissingAttributeError(error.attribute, { protocol: connection.protocol, cause, connectionSid: connection.sid });
}
