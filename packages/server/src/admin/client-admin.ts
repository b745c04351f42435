import { z } from 'zod';
import type { OAuthClient } from '../clients/model.ts';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../clients/model.ts';
import { builtInClient } from '../clients/client-registry.ts';
import { InvalidParameterError } from '../errors.ts';
import { requireSid } from '../ids.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ClientRegistry } from '../clients/client-registry.ts';

/** What client registration uses: the registry, the account's connections, the audit log. */
export interface ClientAdminDependencies {
  accounts: AccountService;
  clients: ClientRegistry;
  audit: AuditLog;
}
import { ID_TOKEN_ALGS } from '../tokens/signing-keys.ts';
import { recordAdminChange, type Actor } from './admin-audit.ts';
import { SET_OIDC_IDP, SET_SAML_IDP } from './setup-report.ts';
import type * as Wire from './responses.ts';
import type { Storage } from '../storage/port.ts';

function iso(ms: number): string;
function iso(ms: number | null): string | null;
function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
const redirectUris = z.array(z.string().min(1).max(2048)).min(1).max(20);
const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) }).describe('Public keys for private_key_jwt (a JWK Set)');

/** Request bodies of the client endpoints (wire names), shared by the admin API and the CLI. */
export const clientSchemas = {
  register: z.strictObject({
    name: z.string().trim().min(1).max(100).optional().describe('A name for people, e.g. "Supervisor portal"'),
    connection_sid: z.string().optional().describe("The connection whose IdP signs the client's users in; default: the account's connection"),
    token_endpoint_auth_method: z
      .enum(TOKEN_ENDPOINT_AUTH_METHODS)
      .optional()
      .describe('client_secret_basic (default), client_secret_post, private_key_jwt, or none for a public client (SPA, native app)'),
    redirect_uris: redirectUris.describe('Exact redirect URIs (RFC 9700); private-use schemes such as com.example.app:/cb for public native apps'),
    jwks: jwks.optional(),
    id_token_signed_response_alg: z.enum(ID_TOKEN_ALGS).optional().describe('RS256 (default) or ES256'),
  }),
  update: z.strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    redirect_uris: redirectUris.optional(),
    jwks: jwks.optional(),
    id_token_signed_response_alg: z.enum(ID_TOKEN_ALGS).optional(),
  }),
  rotate: z.strictObject({
    rollover_seconds: z
      .number()
      .int()
      .min(0)
      .max(90 * 86_400)
      .optional()
      .describe('How long the previous secret keeps working; default 604800 (7 days), 0 ends it now'),
  }),
};

/** The wire shape of a client (RFC 7591 names). Secret values are never in it, only their ids. */
export function clientResource(client: OAuthClient): Wire.Client {
  return {
    client_id: client.clientId,
    account_sid: client.accountSid,
    connection_sid: client.connectionSid,
    name: client.name,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    redirect_uris: client.redirectUris,
    jwks: client.jwks ? { keys: client.jwks } : null,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    secrets: client.secrets.map((s) => ({ id: s.id, created_at: iso(s.createdAt), expires_at: iso(s.expiresAt) })),
    created_at: iso(client.createdAt),
  };
}

/**
 * Client registration for administrators (admin API, console and CLI alike): each change is
 * audited; a new secret is returned once and never again.
 */
export class ClientAdmin {
  constructor(
    private readonly services: ClientAdminDependencies,
    private readonly actor: Actor,
  ) {}

  async list(accountSid: string) {
    requireSid('account', accountSid, 'AccountSid');
    await this.services.accounts.getAccount(accountSid);
    return { clients: (await this.services.clients.list(accountSid)).map(clientResource) };
  }

  async register(accountSid: string, body: z.infer<typeof clientSchemas.register>) {
    requireSid('account', accountSid, 'AccountSid');
    const connections = await this.services.accounts.connectionsOf(accountSid);
    const connection = body.connection_sid ? connections.find((c) => c.sid === body.connection_sid) : connections[0];
    if (!connection) {
      throw new InvalidParameterError(
        body.connection_sid
          ? 'connection_sid is not a connection of this account.'
          : `The account has no connection yet: set up its identity provider first (${SET_SAML_IDP} for a SAML IdP, or ${SET_OIDC_IDP} for an OpenID Connect provider).`,
      );
    }
    // A secret is shown once: the client and its audit record commit together, or neither.
    const { client, secret } = await this.services.clients.register(
      {
        connectionSid: connection.sid,
        name: body.name,
        tokenEndpointAuthMethod: body.token_endpoint_auth_method,
        redirectUris: body.redirect_uris,
        jwks: body.jwks as { keys: object[] } | undefined,
        idTokenSignedResponseAlg: body.id_token_signed_response_alg,
      },
      (tx, made) => this.record(made, `registered OpenID Connect client ${made.clientId} "${made.name}" (${made.tokenEndpointAuthMethod})`, tx),
    );
    return { ...clientResource(client), ...(secret ? { client_secret: secret } : {}) };
  }

  /** A registered client, or a connection's built-in client (by its client ID). */
  async get(clientId: string) {
    const builtIn = await this.builtIn(clientId);
    return clientResource(builtIn ?? (await this.services.clients.get(clientId)));
  }

  /**
   * Changes a registered client. A connection's built-in client (the public client relying
   * parties use without registering one) has only its redirect URIs to change; they are the
   * connection's (`PUT /connections/{sid}/redirect-uris` sets the same list).
   */
  async update(clientId: string, body: z.infer<typeof clientSchemas.update>) {
    const builtIn = await this.builtIn(clientId);
    if (builtIn) {
      const others = Object.entries(body).flatMap(([k, v]) => (k !== 'redirect_uris' && v !== undefined ? [k] : []));
      if (others.length > 0 || body.redirect_uris === undefined) {
        throw new InvalidParameterError(
          `${clientId} is the built-in client of connection ${builtIn.connectionSid}: only redirect_uris can change (not ${others.join(', ') || 'nothing'}). For a name, a secret, keys or another ID token algorithm, register a client (lanyard clients register).`,
        );
      }
      const connection = await this.services.accounts.setRedirectUris(builtIn.connectionSid, body.redirect_uris);
      const updated = builtInClient(connection);
      await this.record(updated, `set the redirect URIs of the built-in OpenID Connect client ${clientId} (connection ${connection.sid})`);
      return clientResource(updated);
    }
    const client = await this.services.clients.update(clientId, {
      name: body.name,
      redirectUris: body.redirect_uris,
      jwks: body.jwks as { keys: object[] } | undefined,
      idTokenSignedResponseAlg: body.id_token_signed_response_alg,
    });
    await this.record(client, `changed OpenID Connect client ${client.clientId} (${Object.keys(body).join(', ') || 'nothing'})`);
    return clientResource(client);
  }

  async rotateSecret(clientId: string, body: z.infer<typeof clientSchemas.rotate>) {
    // The new secret is shown once: the rotation and its audit record commit together, or neither.
    const { client, secret, secretId } = await this.services.clients.rotateSecret(clientId, body.rollover_seconds, (tx, made) =>
      this.record(made, `rotated the secret of client ${made.clientId} (new secret ${made.secrets[0]!.id})`, tx),
    );
    return { ...clientResource(client), client_secret: secret, secret_id: secretId };
  }

  async revokeSecret(clientId: string, secretId: string) {
    const client = await this.services.clients.revokeSecret(clientId, secretId);
    await this.record(client, `revoked secret ${secretId} of client ${client.clientId}`);
    return clientResource(client);
  }

  async remove(clientId: string) {
    const client = await this.services.clients.get(clientId);
    await this.services.clients.remove(clientId);
    await this.record(client, `deleted OpenID Connect client ${client.clientId}`);
    return { client_id: client.clientId, deleted: true };
  }

  private async builtIn(clientId: string): Promise<OAuthClient | undefined> {
    const client = await this.services.clients.find(clientId);
    return client && !client.registered ? client : undefined;
  }

  /** @param tx the transaction of the change, when the record must commit with it. */
  private record(client: OAuthClient, change: string, tx?: Storage): Promise<void> {
    const audit = tx ? this.services.audit.within(tx) : this.services.audit;
    return recordAdminChange(audit, this.actor, client.accountSid, change, { connectionSid: client.connectionSid });
  }
}
