import type { JWK } from 'jose';
import type { AccountService } from '../accounts/account-service.ts';
import type { Connection } from '../accounts/model.ts';
import { randomToken, safeEqual, sha256 } from '../crypto/random.ts';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { InSameTransaction, Storage } from '../storage/port.ts';
import { updateRecord } from '../storage/update-record.ts';
import { ID_TOKEN_ALGS, type SigningAlg } from '../tokens/signing-keys.ts';
import { TOKEN_ENDPOINT_AUTH_METHODS, isConfidential, type OAuthClient, type TokenEndpointAuthMethod } from './model.ts';
import { validateRedirectUris, webOrigin } from '../accounts/redirect-uris.ts';

const KIND = 'oauth_client';
/** How long the previous secret keeps working after a rotation unless told otherwise. */
export const DEFAULT_ROLLOVER_SECONDS = 7 * 86_400;
const MAX_ROLLOVER_SECONDS = 90 * 86_400;
const CLIENT_ID = /^lc_[A-Za-z0-9_-]{20,64}$/;

export interface ClientInput {
  connectionSid: string;
  name?: string;
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  redirectUris: string[];
  jwks?: { keys: JWK[] } | null;
  idTokenSignedResponseAlg?: SigningAlg;
}

export type ClientUpdate = Partial<Pick<ClientInput, 'name' | 'redirectUris' | 'jwks' | 'idTokenSignedResponseAlg'>>;

/** A new secret: shown once, never stored in clear. */
export interface IssuedSecret {
  client: OAuthClient;
  secret: string;
  secretId: string;
}

/**
 * Client registration: redirect URIs, authentication method, secrets (stored as SHA-256, two
 * valid during a rollover) and keys. Lookups also answer for a connection's built-in public
 * client, so older setups and the Flex surface keep working unchanged.
 */
export class ClientRegistry {
  private originCache: { origins: Set<string>; at: number } | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly accounts: AccountService,
  ) {}

  /** Registers a client; its secret, if any, is returned once. `alongside` commits with it (InSameTransaction). */
  async register(input: ClientInput, alongside?: InSameTransaction<OAuthClient>): Promise<{ client: OAuthClient; secret: string | null }> {
    const connection = await this.accounts.getConnection(input.connectionSid);
    const method = input.tokenEndpointAuthMethod ?? 'client_secret_basic';
    if (!TOKEN_ENDPOINT_AUTH_METHODS.includes(method))
      throw new InvalidParameterError(`token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}.`);
    const now = Date.now();
    const client: OAuthClient = {
      clientId: randomToken('lc_').slice(0, 35),
      accountSid: connection.accountSid,
      connectionSid: connection.sid,
      name: checkName(input.name ?? 'OpenID Connect client'),
      tokenEndpointAuthMethod: method,
      redirectUris: validateRedirectUris(input.redirectUris, { allowPrivateUse: method === 'none' }),
      secrets: [],
      jwks: checkJwks(method, input.jwks),
      idTokenSignedResponseAlg: checkAlg(input.idTokenSignedResponseAlg ?? 'RS256'),
      createdAt: now,
      registered: true,
    };
    if (client.redirectUris.length === 0) throw new InvalidParameterError('redirect_uris: register at least one redirect URI.');
    let secret: string | null = null;
    if (method === 'client_secret_basic' || method === 'client_secret_post') {
      secret = randomToken('lcs_');
      client.secrets = [{ id: randomToken().slice(0, 12), hash: sha256(secret), createdAt: now, expiresAt: null }];
    }
    await this.storage.transaction(async (tx) => {
      await this.insert(client, tx);
      await alongside?.(tx, client);
    });
    return { client, secret };
  }

  /** A registered client, or the built-in public client of the connection with that client ID. */
  async find(clientId: string): Promise<OAuthClient | undefined> {
    if (CLIENT_ID.test(clientId)) return (await this.storage.find<OAuthClient>(KIND, clientId))?.payload;
    const connection = await this.accounts.findConnectionByClientId(clientId);
    return connection ? builtInClient(connection) : undefined;
  }

  /** @param storage where to read: a transaction's, inside one (on SQLite anything else waits for the transaction to end). */
  async get(clientId: string, storage: Storage = this.storage): Promise<OAuthClient> {
    const client = CLIENT_ID.test(clientId) ? (await storage.find<OAuthClient>(KIND, clientId))?.payload : undefined;
    if (!client)
      throw new NotFoundError(`Client ${String(clientId).slice(0, 64)} was not found (client IDs of registered clients start with "lc_").`);
    return client;
  }

  async list(accountSid: string): Promise<OAuthClient[]> {
    return (await this.storage.list<OAuthClient>(KIND, { accountSid })).map((r) => r.payload);
  }

  async update(clientId: string, patch: ClientUpdate): Promise<OAuthClient> {
    return this.change(clientId, (client) => {
      const next: OAuthClient = {
        ...client,
        ...(patch.name !== undefined ? { name: checkName(patch.name) } : {}),
        ...(patch.redirectUris !== undefined
          ? { redirectUris: validateRedirectUris(patch.redirectUris, { allowPrivateUse: !isConfidential(client) }) }
          : {}),
        ...(patch.jwks !== undefined ? { jwks: checkJwks(client.tokenEndpointAuthMethod, patch.jwks) } : {}),
        ...(patch.idTokenSignedResponseAlg !== undefined ? { idTokenSignedResponseAlg: checkAlg(patch.idTokenSignedResponseAlg) } : {}),
      };
      if (next.redirectUris.length === 0) throw new InvalidParameterError('redirect_uris: a client needs at least one redirect URI.');
      return next;
    });
  }

  /**
   * Issues a new secret. The previous one keeps working for `rolloverSeconds` (default 7 days,
   * 0 ends it now), so deployments can switch without downtime; older ones end at once. When
   * there is no current secret to roll over (it was revoked), the secret still rolling over from
   * the last rotation keeps working (it may be the one deployments use) until its own end or
   * `rolloverSeconds` from now, whichever is sooner.
   */
  async rotateSecret(
    clientId: string,
    rolloverSeconds = DEFAULT_ROLLOVER_SECONDS,
    alongside?: InSameTransaction<OAuthClient>,
  ): Promise<IssuedSecret> {
    if (!Number.isInteger(rolloverSeconds) || rolloverSeconds < 0 || rolloverSeconds > MAX_ROLLOVER_SECONDS)
      throw new InvalidParameterError(`rollover_seconds must be a whole number from 0 to ${MAX_ROLLOVER_SECONDS}.`);
    const secret = randomToken('lcs_');
    const issued = { id: randomToken().slice(0, 12), hash: sha256(secret), createdAt: Date.now(), expiresAt: null };
    const rotated = (client: OAuthClient): OAuthClient => {
      if (client.tokenEndpointAuthMethod !== 'client_secret_basic' && client.tokenEndpointAuthMethod !== 'client_secret_post') {
        throw new ConflictError(`Client ${client.clientId} authenticates with ${client.tokenEndpointAuthMethod}; it has no secret to rotate.`);
      }
      const live = liveSecrets(client, issued.createdAt);
      const current = live.find((s) => s.expiresAt === null);
      const rollingOver = live.filter((s) => s.expiresAt !== null).sort((a, b) => b.expiresAt! - a.expiresAt!)[0];
      const rolloverEnd = issued.createdAt + rolloverSeconds * 1000;
      const previous =
        rolloverSeconds === 0
          ? []
          : current
            ? [{ ...current, expiresAt: rolloverEnd }]
            : rollingOver
              ? [{ ...rollingOver, expiresAt: Math.min(rollingOver.expiresAt!, rolloverEnd) }]
              : [];
      return { ...client, secrets: [issued, ...previous] };
    };
    // Without `alongside`, no transaction: the compare-and-set of `change` alone keeps a secret
    // revoked meanwhile revoked (inside one it still does: a conflicting write re-reads).
    const next = alongside
      ? await this.storage.transaction(async (tx) => {
          const changed = await this.change(clientId, rotated, tx);
          await alongside(tx, changed);
          return changed;
        })
      : await this.change(clientId, rotated);
    return { client: next, secret, secretId: issued.id };
  }

  /** Ends a secret now (e.g. the previous one once every deployment has the new one). */
  async revokeSecret(clientId: string, secretId: string): Promise<OAuthClient> {
    return this.change(clientId, (client) => {
      const secret = client.secrets.find((s) => s.id === secretId);
      if (!secret) throw new NotFoundError(`Client ${client.clientId} has no secret ${String(secretId).slice(0, 20)}.`);
      if (client.secrets.length === 1) throw new ConflictError('This is the only secret of the client; rotate first, then revoke the old one.');
      return { ...client, secrets: client.secrets.filter((s) => s.id !== secretId) };
    });
  }

  async remove(clientId: string): Promise<void> {
    const client = await this.get(clientId);
    await this.storage.destroy(KIND, client.clientId);
    this.originCache = undefined;
  }

  /** True when `secret` is one of the client's live secrets (constant-time per candidate). */
  verifySecret(client: OAuthClient, secret: string, now = Date.now()): boolean {
    const hash = sha256(secret);
    let match = false;
    for (const s of liveSecrets(client, now)) match = safeEqual(hash, s.hash) || match;
    return match;
  }

  /** Origins of registered clients' web redirect URIs: browser clients may call token endpoints from there. */
  async isClientOrigin(origin: string): Promise<boolean> {
    if (!this.originCache || Date.now() - this.originCache.at > 10_000) {
      const origins = new Set<string>();
      for (const { payload } of await this.storage.list<OAuthClient>(KIND)) {
        for (const uri of payload.redirectUris) {
          const origin = webOrigin(uri);
          if (origin) origins.add(origin);
        }
      }
      this.originCache = { origins, at: Date.now() };
    }
    return this.originCache.origins.has(origin);
  }

  /** The algorithm of a client's ID tokens (`id_token_signed_response_alg`, RS256 by default). */
  async idTokenAlg(clientId: string): Promise<SigningAlg> {
    return (await this.find(clientId))?.idTokenSignedResponseAlg ?? 'RS256';
  }

  private async insert(client: OAuthClient, storage: Storage = this.storage): Promise<void> {
    this.originCache = undefined;
    const record = { kind: KIND, id: client.clientId, accountSid: client.accountSid, payload: client };
    if (!(await storage.insert(record))) throw new ConflictError('A client with this ID exists already; try again.');
  }

  /**
   * `change` applied to the registered client as stored now, and again on a fresh read when
   * another request wrote it first (updateRecord): a secret revoked while another is issued
   * stays revoked. Never an upsert: a client removed meanwhile stays removed, secrets and all.
   * @throws NotFoundError for an unknown or removed client; what `change` throws.
   */
  private async change(clientId: string, change: (client: OAuthClient) => OAuthClient, storage: Storage = this.storage): Promise<OAuthClient> {
    await this.get(clientId, storage);
    const written = await updateRecord<OAuthClient>(storage, { kind: KIND, id: clientId, what: `Client ${clientId}` }, (current) => ({
      ...current,
      payload: change(current.payload),
    }));
    this.originCache = undefined;
    if (!written) throw new NotFoundError(`Client ${clientId} was not found: it was removed while this request changed it.`);
    return written.payload;
  }
}

/** The connection's own client: public, PKCE, its registered redirect URIs. */
export function builtInClient(connection: Connection): OAuthClient {
  return {
    clientId: connection.clientId,
    accountSid: connection.accountSid,
    connectionSid: connection.sid,
    name: `connection ${connection.sid}`,
    tokenEndpointAuthMethod: 'none',
    redirectUris: connection.redirectUris,
    secrets: [],
    jwks: null,
    idTokenSignedResponseAlg: 'RS256',
    createdAt: connection.createdAt,
    registered: false,
  };
}

function liveSecrets(client: OAuthClient, now: number) {
  return client.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) throw new InvalidParameterError('name must be 1 to 100 characters.');
  return name.trim();
}

function checkAlg(alg: string): SigningAlg {
  const found = ID_TOKEN_ALGS.find((a) => a === alg);
  if (!found) throw new InvalidParameterError(`id_token_signed_response_alg must be ${ID_TOKEN_ALGS.join(' or ')}.`);
  return found;
}

/** private_key_jwt needs public signing keys; other methods must not carry any. */
function checkJwks(method: TokenEndpointAuthMethod, jwks: { keys: JWK[] } | null | undefined): JWK[] | null {
  if (method !== 'private_key_jwt') {
    if (jwks) throw new InvalidParameterError('jwks is only for token_endpoint_auth_method private_key_jwt.');
    return null;
  }
  const keys = jwks?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 10)
    throw new InvalidParameterError('jwks: private_key_jwt needs a JWK Set with 1 to 10 public keys ({"keys": [...]}).');
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || !['RSA', 'EC', 'OKP'].includes(String(key.kty)))
      throw new InvalidParameterError('jwks: each key must be an RSA, EC or OKP public key.');
    if ('d' in key || 'p' in key || 'k' in key)
      throw new InvalidParameterError('jwks: send public keys only (a private or symmetric key was included).');
  }
  return keys.map((k) => ({ ...k }));
}
