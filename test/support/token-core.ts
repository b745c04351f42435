import { randomBytes } from 'node:crypto';
import { sha256 } from '../../packages/server/src/crypto/random.ts';
import type { CodeGrant } from '../../packages/server/src/tokens/model.ts';
import { AccountService } from '../../packages/server/src/accounts/account-service.ts';
import type { Account, Connection } from '../../packages/server/src/accounts/model.ts';
import { AuditLog } from '../../packages/server/src/audit/audit-log.ts';
import { loadConfig, type LanyardConfig } from '../../packages/server/src/config.ts';
import { SecretBox } from '../../packages/server/src/crypto/secret-box.ts';
import { openStorage } from '../../packages/server/src/storage/open.ts';
import type { Storage } from '../../packages/server/src/storage/port.ts';
import { AccessTokens } from '../../packages/server/src/tokens/access-tokens.ts';
import { SigningKeys } from '../../packages/server/src/tokens/signing-keys.ts';
import { TokenService } from '../../packages/server/src/tokens/token-service.ts';
import { UserService, type User } from '../../packages/server/src/users/user-service.ts';
import { createTestDatabase, type Backend } from './backends.ts';

/**
 * The token core and what it stands on, wired by hand on a fresh database (SQLite file or
 * PostgreSQL schema) with a fresh secret key and signing key: for unit tests of the core units.
 * One account with one connection and one provisioned user.
 */
export interface TokenCore {
  config: LanyardConfig;
  storage: Storage;
  secrets: SecretBox;
  accounts: AccountService;
  users: UserService;
  keys: SigningKeys;
  accessTokens: AccessTokens;
  tokens: TokenService;
  audit: AuditLog;
  account: Account;
  connection: Connection;
  user: User;
  close(): Promise<void>;
}

export async function createTokenCore(backend: Backend, overrides: Partial<LanyardConfig> = {}): Promise<TokenCore> {
  const db = await createTestDatabase(backend, undefined, 'unit');
  const config = loadConfig({ LANYARD_DATABASE_URL: db.url, LANYARD_PUBLIC_URL: 'https://sso.example.test' }, overrides);
  const storage = await openStorage(db.url);
  const secrets = new SecretBox(randomBytes(32));
  const accounts = new AccountService(storage, undefined, secrets);
  const users = new UserService(storage);
  const keys = new SigningKeys(storage, secrets, config.sessionMaxLifetimeSeconds * 1000);
  await keys.init();
  const accessTokens = new AccessTokens(keys, config.publicUrl);
  const tokens = new TokenService(storage, config, secrets, accessTokens, accounts, users);
  const { account } = await accounts.createAccount('Unit test contact center');
  const { connection } = await accounts.ensureConnection(account.sid);
  const user = await users.provision(account.sid, {
    uniqueId: 'ada@example.com',
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    roles: ['agent'],
    imageUrl: null,
    attributes: {},
  });
  return {
    config,
    storage,
    secrets,
    accounts,
    users,
    keys,
    accessTokens,
    tokens,
    audit: new AuditLog(storage),
    account,
    connection,
    user,
    async close() {
      await storage.close();
      await db.drop();
    },
  };
}

/**
 * An authorization code as the broker mints it at the end of a sign-in (Flex surface, the core's
 * account, connection, built-in client and user, a nonce-less grant unless `grant` says otherwise),
 * and the PKCE verifier that spends it.
 */
export async function mintCode(c: TokenCore, grant: Partial<CodeGrant> = {}): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const code = await c.tokens.createCode({
    surface: 'flex',
    accountSid: c.account.sid,
    connectionSid: c.connection.sid,
    clientId: c.connection.clientId,
    userSid: c.user.sid,
    redirectUrl: 'https://desktop.example.test/',
    codeChallenge: sha256(verifier),
    nonce: null,
    scope: null,
    authTime: Date.now(),
    ...grant,
  });
  return { code, verifier };
}
