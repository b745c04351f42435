import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { AccountService } from './accounts/account-service.ts';
import { AdminKeys } from './admin/admin-keys.ts';
import { AuditLog } from './audit/audit-log.ts';
import { ClientRegistry } from './clients/client-registry.ts';
import { ConfigError } from './errors.ts';
import type { LanyardConfig } from './config.ts';
import { environmentKey, SecretBox } from './crypto/secret-box.ts';
import { SpKeys } from './connections/sp-keys.ts';
import { SamlVerificationPool } from './connections/saml-verification-pool.ts';
import { jsonLogger, type Logger } from './http/logger.ts';
import { LegacyLoginService } from './legacy/legacy-login-service.ts';
import { LoginService } from './login/login-service.ts';
import { RateLimits } from './http/rate-limit.ts';
import { Lifecycle } from './operations/lifecycle.ts';
import { auditReplays } from './operations/replay-audit.ts';
import { meter } from './operations/metering.ts';
import { Metrics } from './operations/metrics.ts';
import { databaseLabel } from './storage/database-label.ts';
import { openStorage } from './storage/open.ts';
import type { Storage } from './storage/port.ts';
import { AccessTokens } from './tokens/access-tokens.ts';
import { SigningKeys, type SigningAlg } from './tokens/signing-keys.ts';
import { TokenService } from './tokens/token-service.ts';
import { UserService } from './users/user-service.ts';

/** Everything the routes need, built once per process. */
export interface Services {
  config: LanyardConfig;
  logger: Logger;
  storage: Storage;
  secrets: SecretBox;
  accounts: AccountService;
  /** Registered OAuth 2.0 / OpenID Connect clients of the standard surface. */
  clients: ClientRegistry;
  users: UserService;
  keys: SigningKeys;
  accessTokens: AccessTokens;
  tokens: TokenService;
  login: LoginService;
  legacy: LegacyLoginService;
  /** Per-connection SAML SP keys (AuthnRequest signing, assertion decryption). */
  spKeys: SpKeys;
  audit: AuditLog;
  adminKeys: AdminKeys;
  metrics: Metrics;
  /** In-flight requests, warm-up and draining state (`/readyz`, graceful shutdown). */
  lifecycle: Lifecycle;
  /** This node's rate-limit budgets (in memory; routes declare theirs with `rateLimits.route`). */
  rateLimits: RateLimits;
  /** The worker threads that verify SAML Responses (`LANYARD_SAML_WORKERS`); started once the server is ready, closed with it. */
  samlVerification: SamlVerificationPool;
}

export interface ServiceOptions {
  logger?: Logger;
  storage?: Storage;
  /**
   * Signing-key algorithms whose missing key is created in the background instead of before the
   * services are returned (`SigningKeys.init`): `startLanyard` passes RS256 so that a fresh
   * database does not hold readiness on RSA key generation. Whoever closes storage awaits
   * `keys.settled()` first.
   */
  deferredSigningKeys?: readonly SigningAlg[];
}

export async function createServices(config: LanyardConfig, options: ServiceOptions = {}): Promise<Services> {
  const logger = options.logger ?? jsonLogger(config.logLevel);
  // Before the database is opened: a refused configuration must not create a schema first (the
  // next, corrected start would no longer say that it found the database empty).
  if (!config.secretKey) assertDevelopmentKeyAllowed(config);
  if (options.storage) return assembleServices(config, options, logger, options.storage);
  const storage = await openStorage(config.databaseUrl, { onWarning: (message) => logger.warn(message) });
  try {
    return await assembleServices(config, options, logger, storage);
  } catch (error) {
    // Opened here, so closed here: its pool or checkpoint worker would otherwise outlive the error.
    await storage.close().catch(() => undefined);
    throw error;
  }
}

async function assembleServices(config: LanyardConfig, options: ServiceOptions, logger: Logger, storage: Storage): Promise<Services> {
  const secrets = config.secretKey
    ? new SecretBox(config.secretKey, environmentKey(databaseLabel(config.databaseUrl)))
    : await developmentSecretBox(config, logger, () => SigningKeys.anyStored(storage));
  const accounts = new AccountService(storage, undefined, secrets);
  const users = new UserService(storage);
  const keys = new SigningKeys(storage, secrets, Math.max(config.accessTokenTtlSeconds, config.sessionMaxLifetimeSeconds) * 1000);
  keys.reloadEveryMs = config.signingKeyReloadSeconds * 1000;
  await keys.init({
    deferred: options.deferredSigningKeys,
    onDeferredError: (error) => logger.warn('creating a signing key failed; the first request that needs it tries again', { error: error.message }),
  });
  const clients = new ClientRegistry(storage, accounts);
  const accessTokens = new AccessTokens(keys, config.publicUrl, (clientId) => clients.idTokenAlg(clientId));
  const metrics = new Metrics();
  const rateLimits = RateLimits.fromConfig(config);
  const tokens = new TokenService(storage, config, secrets, accessTokens, accounts, users, rateLimits);
  const audit = new AuditLog(storage);
  meter(metrics, { tokens, audit });
  auditReplays({ tokens, audit }, logger);
  const spKeys = new SpKeys(storage, secrets);
  const samlVerification = new SamlVerificationPool({ threads: config.samlWorkers, onWarning: (message) => logger.warn(message) });
  const login = new LoginService(storage, config, accounts, users, tokens, audit, secrets, spKeys, rateLimits, samlVerification);
  const legacy = new LegacyLoginService(storage, config, accounts, users, tokens, audit, spKeys, rateLimits, samlVerification);
  const adminKeys = new AdminKeys(storage);
  return {
    config,
    logger,
    storage,
    secrets,
    accounts,
    clients,
    users,
    keys,
    accessTokens,
    tokens,
    login,
    legacy,
    spKeys,
    audit,
    adminKeys,
    metrics,
    lifecycle: new Lifecycle(),
    rateLimits,
    samlVerification,
  };
}

/**
 * Without LANYARD_SECRET_KEY: refused in production (NODE_ENV=production) and with PostgreSQL
 * (several nodes need the same key, and it must not live next to the data it protects).
 */
function assertDevelopmentKeyAllowed(config: LanyardConfig): void {
  if (process.env.NODE_ENV === 'production')
    throw new ConfigError('LANYARD_SECRET_KEY is required in production (NODE_ENV=production): openssl rand -base64 32');
  if (/^postgres/.test(config.databaseUrl))
    throw new ConfigError('LANYARD_SECRET_KEY is required with PostgreSQL (every node needs the same key): openssl rand -base64 32');
}

/**
 * Without LANYARD_SECRET_KEY on SQLite, so that the demo works out of the box: the development
 * key in `secret.key` beside the SQLite file, generated there once, for a database that holds
 * nothing sealed yet; an in-memory database gets a key of its own that ends with it (no file).
 *
 * The file is the folder's: every SQLite file beside it uses it (the demo's and the CLI's
 * defaults share `.lanyard/`). A database holding signing keys with no file beside it was set up
 * with another key (LANYARD_SECRET_KEY, or a file since removed): refused (ConfigError 10001),
 * nothing written, since a new key could not read it and every later start without the variable
 * would pick it up. A file that does not open the database's keys is named in that error too
 * (SecretBox's source).
 */
async function developmentSecretBox(config: LanyardConfig, logger: Logger, databaseHoldsSealedKeys: () => Promise<boolean>): Promise<SecretBox> {
  assertDevelopmentKeyAllowed(config);
  const dbFile = config.databaseUrl.replace(/^sqlite:/, '');
  if (dbFile === ':memory:') return new SecretBox(randomBytes(32), { name: "the in-memory database's key", fix: '' });
  const file = join(dirname(dbFile), 'secret.key');
  const database = databaseLabel(config.databaseUrl);
  if (!existsSync(file)) {
    // Read only here: with the file in place, its key is the folder's whatever the database holds.
    if (await databaseHoldsSealedKeys()) {
      throw new ConfigError(
        `LANYARD_SECRET_KEY is not set, and the database ${database} holds signing keys sealed with a key that is not beside it (no ${file}): ` +
          'set LANYARD_SECRET_KEY to the key the server runs with on this database, or restore that file; a new key could not read what the database holds',
      );
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
    logger.warn('LANYARD_SECRET_KEY is not set; generated a development key', { file });
  }
  return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), {
    name: `the development key in ${file} (LANYARD_SECRET_KEY is not set)`,
    database,
    fix:
      'Set LANYARD_SECRET_KEY to the key the server runs with on it. If it was set up without one, the secret.key beside it then was another: ' +
      "every SQLite file in this folder shares one (the demo's .lanyard/demo.db may have made this one); put that one back.",
  });
}
