import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { availableCpus } from './available-cpus.ts';

/**
 * Server configuration, read from environment variables (and optionally a JSON file named by
 * LANYARD_CONFIG_FILE, whose keys are the same variable names; the environment wins) once at
 * start and validated here. Everything inside the server receives the typed `LanyardConfig`,
 * never `process.env`.
 */
const seconds = (fallback: number, max: number, why: string) =>
  z.coerce.number().int().positive().max(max, `must be at most ${max} seconds (${why})`).default(fallback);
/** Requests per minute and node for one key (address, account, user, session); 0 turns the limit off. */
const perMinute = (fallback: number) => z.coerce.number().int().min(0).max(1_000_000).default(fallback);

const envSchema = z.object({
  LANYARD_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .refine((value) => {
      if (!URL.canParse(value)) return true; // the url check above already says so
      const url = new URL(value);
      return !url.search && !url.hash && !url.username && !url.password;
    }, 'must be the external base URL alone, without query, fragment or credentials, e.g. https://sso.example.com')
    .optional(),
  LANYARD_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0 (no scheme, port or path)')
    .default('127.0.0.1'),
  LANYARD_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LANYARD_DATABASE_URL: z
    .string()
    .refine(
      (value) => (/^postgres(ql)?:\/\//.test(value) ? URL.canParse(value) : !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)),
      'must be sqlite:<file> (or a file path) or postgres://user@host/database; other databases are not supported',
    )
    .default('sqlite:.lanyard/lanyard.db'),
  LANYARD_SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_-]{43,44}={0,1}$/, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must decode to exactly 32 bytes (openssl rand -base64 32)')
    .optional(),
  LANYARD_ACCESS_TOKEN_TTL: seconds(3600, 86_400, 'a desktop token lives at most a day; sessions renew it'),
  LANYARD_REFRESH_TOKEN_TTL: seconds(24 * 3600, 30 * 86_400, 'thirty days'),
  LANYARD_SESSION_MAX_LIFETIME: seconds(12 * 3600, 7 * 86_400, 'a shift of at most a week'),
  LANYARD_REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(120).default(10),
  LANYARD_CODE_TTL: seconds(60, 600, 'RFC 6749 §4.1.2: authorization codes live at most 10 minutes'),
  LANYARD_LOGIN_TTL: seconds(600, 3600, 'a pending sign-in at the IdP'),
  LANYARD_TRUST_PROXY: z.stringbool().default(false),
  LANYARD_METADATA_REFRESH_MINUTES: z.coerce.number().int().min(0).max(10_080).default(720),
  LANYARD_LOG_LEVEL: z.enum(['info', 'warn', 'error', 'silent']).default('info'),
  LANYARD_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 16)').optional(),
  LANYARD_SHUTDOWN_TIMEOUT: z.coerce.number().int().min(0).max(300).default(10),
  // Above the idle timeouts of the clients and load balancers in front (browsers, undici 4 s,
  // AWS ALB and nginx 60 s): the side that closes an idle connection first must be the client,
  // or a request sent on it as the server closes it is reset (ECONNRESET, 502 at a proxy).
  LANYARD_KEEP_ALIVE_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(72),
  LANYARD_HEADERS_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(75),
  LANYARD_SIGNING_KEY_RELOAD: z.coerce.number().int().min(1).max(3600).default(30),
  LANYARD_SAML_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  // Per client address: high, because a contact center's agents sit behind one egress address
  // (2,000 agents signing in within a minute is a shift change, not an attack).
  LANYARD_RATE_LIMIT_LOGIN: perMinute(10_000),
  LANYARD_RATE_LIMIT_TOKEN: perMinute(10_000),
  LANYARD_RATE_LIMIT_ADMIN: perMinute(120),
  // Per account, user and session: what stops guessing and runaway clients whatever the address.
  LANYARD_RATE_LIMIT_ACCOUNT_SIGN_INS: perMinute(20_000),
  LANYARD_RATE_LIMIT_USER_SIGN_INS: perMinute(60),
  LANYARD_RATE_LIMIT_REFRESH_FAMILY: perMinute(60),
});

const KNOWN_KEYS = new Set(Object.keys(envSchema.shape));

export interface LanyardConfig {
  /** The externally visible base URL (issuer, ACS URLs). No trailing slash. */
  publicUrl: string;
  host: string;
  port: number;
  databaseUrl: string;
  /** 32-byte key that encrypts secrets at rest; undefined means "use a generated dev key". */
  secretKey: Buffer | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** A session (a shift) ends here however often it refreshes. */
  sessionMaxLifetimeSeconds: number;
  /** A spent refresh token presented again within this window returns the same successor. */
  refreshGraceSeconds: number;
  codeTtlSeconds: number;
  loginTtlSeconds: number;
  trustProxy: boolean;
  /** How often IdP metadata imported from a URL is re-read; 0 turns it off. */
  metadataRefreshMinutes: number;
  logLevel: 'info' | 'warn' | 'error' | 'silent';
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** On SIGTERM, how long in-flight requests may take to finish before connections are cut. */
  shutdownTimeoutSeconds: number;
  /** How long an idle kept-alive connection stays open (s; Node's `server.keepAliveTimeout`). */
  keepAliveTimeoutSeconds: number;
  /** How long a client may take to send a request's headers (s; `server.headersTimeout`), above the keep-alive timeout. */
  headersTimeoutSeconds: number;
  /** How often each node re-reads signing keys (a rotation by another node or the CLI). */
  signingKeyReloadSeconds: number;
  /**
   * Worker threads that verify SAML Responses (0: on the main thread). Default: the CPUs the
   * process can use (`availableCpus`: the cores, or a container's CPU limit when lower), at most 4.
   */
  samlWorkers: number;
  /**
   * Rate limits, each in requests per minute and node (0: no limit), counted in memory (token
   * buckets; see docs/security.md). Per client address on sign-in, token and admin routes:
   */
  rateLimitLoginPerMinute: number;
  rateLimitTokenPerMinute: number;
  rateLimitAdminPerMinute: number;
  /** Sign-ins started per account (each stores a pending login): a flood from many addresses. */
  rateLimitAccountSignInsPerMinute: number;
  /** Completed sign-ins per user. */
  rateLimitUserSignInsPerMinute: number;
  /** Refresh grants per session (refresh-token family). */
  rateLimitRefreshFamilyPerMinute: number;
}

/**
 * Reads the JSON file named by LANYARD_CONFIG_FILE: an object whose keys are LANYARD_* variable
 * names and whose values are strings, numbers or booleans. Unknown keys are refused, so a typo
 * fails the start instead of being silently ignored.
 */
function readConfigFile(path: string): Record<string, string> {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration: LANYARD_CONFIG_FILE ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${path} is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`Invalid configuration: ${path} must hold a JSON object of LANYARD_* settings, e.g. {"LANYARD_PORT": 4000}.`);
  }
  const problems: string[] = [];
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'LANYARD_CONFIG_FILE' || !KNOWN_KEYS.has(key)) {
      problems.push(`  ${key}: unknown setting in ${path} (known: ${[...KNOWN_KEYS].join(', ')})`);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values[key] = String(value);
    } else {
      problems.push(`  ${key}: must be a string, number or boolean in ${path}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return values;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<LanyardConfig> = {}): LanyardConfig {
  const file = env.LANYARD_CONFIG_FILE ? readConfigFile(env.LANYARD_CONFIG_FILE) : {};
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => KNOWN_KEYS.has(entry[0]) && entry[1] !== undefined),
  );
  const merged: Record<string, string> = { ...file, ...fromEnv };
  const sourceOf = (key: string) => (Object.hasOwn(fromEnv, key) || !Object.hasOwn(file, key) ? '' : ` (from ${env.LANYARD_CONFIG_FILE})`);
  // An empty value would coerce to 0 (LANYARD_RATE_LIMIT_LOGIN= turning the limit off): refuse it.
  const empty = Object.keys(merged).filter((key) => merged[key]!.trim() === '');
  if (empty.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n${empty.map((key) => `  ${key}${sourceOf(key)}: is empty; set a value or unset it to use the default`).join('\n')}`,
    );
  }
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      // zod reads "abc" for a number as NaN ("expected number, received NaN"), and says "expected
      // int, received number" of 1.5: say what was expected and what was given.
      const given = JSON.stringify(merged[key]?.slice(0, 40));
      const message =
        issue.code === 'invalid_type' && issue.expected === 'number'
          ? `must be a number, got ${given}`
          : issue.code === 'invalid_type' && issue.expected === 'int'
            ? `must be a whole number, got ${given}`
            : (issue.code === 'too_small' || issue.code === 'too_big') && issue.origin === 'number'
              ? `${issue.message} (got ${given})`
              : issue.message;
      return `  ${key}${sourceOf(key)}: ${message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.LANYARD_REFRESH_TOKEN_TTL < e.LANYARD_ACCESS_TOKEN_TTL) {
    throw new ConfigError(
      `Invalid configuration:\n  LANYARD_REFRESH_TOKEN_TTL${sourceOf('LANYARD_REFRESH_TOKEN_TTL')}: must be at least LANYARD_ACCESS_TOKEN_TTL (${e.LANYARD_ACCESS_TOKEN_TTL}); a refresh token that dies before its access token renews nothing`,
    );
  }
  if (e.LANYARD_HEADERS_TIMEOUT <= e.LANYARD_KEEP_ALIVE_TIMEOUT) {
    throw new ConfigError(
      `Invalid configuration:\n  LANYARD_HEADERS_TIMEOUT${sourceOf('LANYARD_HEADERS_TIMEOUT')}: must be above LANYARD_KEEP_ALIVE_TIMEOUT (${e.LANYARD_KEEP_ALIVE_TIMEOUT}); a kept-alive connection's next request would otherwise be cut while its headers arrive`,
    );
  }
  const publicUrl = (e.LANYARD_PUBLIC_URL ?? httpOrigin(e.LANYARD_HOST, e.LANYARD_PORT)).replace(/\/+$/, '');
  return {
    publicUrl,
    host: e.LANYARD_HOST,
    port: e.LANYARD_PORT,
    databaseUrl: e.LANYARD_DATABASE_URL,
    secretKey: e.LANYARD_SECRET_KEY ? Buffer.from(e.LANYARD_SECRET_KEY, 'base64') : undefined,
    accessTokenTtlSeconds: e.LANYARD_ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: e.LANYARD_REFRESH_TOKEN_TTL,
    sessionMaxLifetimeSeconds: e.LANYARD_SESSION_MAX_LIFETIME,
    refreshGraceSeconds: e.LANYARD_REFRESH_GRACE_SECONDS,
    codeTtlSeconds: e.LANYARD_CODE_TTL,
    loginTtlSeconds: e.LANYARD_LOGIN_TTL,
    trustProxy: e.LANYARD_TRUST_PROXY,
    metadataRefreshMinutes: e.LANYARD_METADATA_REFRESH_MINUTES,
    logLevel: e.LANYARD_LOG_LEVEL,
    metricsToken: e.LANYARD_METRICS_TOKEN,
    shutdownTimeoutSeconds: e.LANYARD_SHUTDOWN_TIMEOUT,
    keepAliveTimeoutSeconds: e.LANYARD_KEEP_ALIVE_TIMEOUT,
    headersTimeoutSeconds: e.LANYARD_HEADERS_TIMEOUT,
    signingKeyReloadSeconds: e.LANYARD_SIGNING_KEY_RELOAD,
    samlWorkers: e.LANYARD_SAML_WORKERS ?? Math.min(4, availableCpus()),
    rateLimitLoginPerMinute: e.LANYARD_RATE_LIMIT_LOGIN,
    rateLimitTokenPerMinute: e.LANYARD_RATE_LIMIT_TOKEN,
    rateLimitAdminPerMinute: e.LANYARD_RATE_LIMIT_ADMIN,
    rateLimitAccountSignInsPerMinute: e.LANYARD_RATE_LIMIT_ACCOUNT_SIGN_INS,
    rateLimitUserSignInsPerMinute: e.LANYARD_RATE_LIMIT_USER_SIGN_INS,
    rateLimitRefreshFamilyPerMinute: e.LANYARD_RATE_LIMIT_REFRESH_FAMILY,
    ...overrides,
  };
}

/**
 * `http://host:port` for a listening address, an IPv6 host in brackets (RFC 3986 §3.2.2:
 * `http://[::1]:4000`): the default public URL, and where `lanyard serve` says it listens.
 */
export function httpOrigin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
