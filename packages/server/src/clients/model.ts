import type { JWK } from 'jose';
import type { SigningAlg } from '../tokens/signing-keys.ts';

/**
 * How a client authenticates at the token, revocation and introspection endpoints
 * (OpenID Connect Core §9, RFC 7591 §2). `none` is a public client: PKCE binds its codes.
 */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** A client secret, kept only as its SHA-256 (it is 256 random bits: no slow hash needed). */
export interface ClientSecretRecord {
  id: string;
  hash: string;
  createdAt: number;
  /** Set on the previous secret at a rotation: it keeps working until then (ms since epoch). */
  expiresAt: number | null;
}

/**
 * A registered OAuth 2.0 / OpenID Connect client of one connection. Stored as kind
 * `oauth_client` under its `client_id`. Every connection also has a built-in public client
 * (its own client ID and `redirectUris`), which the Flex surface and older setups use.
 */
export interface OAuthClient {
  clientId: string;
  accountSid: string;
  connectionSid: string;
  name: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Exact redirect URIs (RFC 9700 §4.1.1); private-use schemes only for public clients (RFC 8252 §7.1). */
  redirectUris: string[];
  /** At most two: the current secret and, during a rollover, the previous one. */
  secrets: ClientSecretRecord[];
  /** Public keys for `private_key_jwt` client assertions (RFC 7523). */
  jwks: JWK[] | null;
  idTokenSignedResponseAlg: SigningAlg;
  createdAt: number;
  /** False for a connection's built-in client, which is not stored as a client record. */
  registered: boolean;
}

export const isConfidential = (client: Pick<OAuthClient, 'tokenEndpointAuthMethod'>) => client.tokenEndpointAuthMethod !== 'none';
