import { z } from 'zod';
import { ConfigError } from './errors.ts';

/**
 * Server configuration, read from environment variables once at start and validated here.
 * Everything inside the server receives the typed `LanyardConfig`, never `process.env`.
 */
const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const envSchema = z.object({
  LANYARD_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  LANYARD_HOST: z.string().min(1).default('127.0.0.1'),
  LANYARD_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LANYARD_DATABASE_URL: z.string().min(1).default('sqlite:.lanyard/lanyard.db'),
  LANYARD_SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_-]{43,44}={0,1}$/, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .optional(),
  LANYARD_ACCESS_TOKEN_TTL: seconds(3600),
  LANYARD_REFRESH_TOKEN_TTL: seconds(24 * 3600),
  LANYARD_SESSION_MAX_LIFETIME: seconds(12 * 3600),
  LANYARD_REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(120).default(10),
  LANYARD_CODE_TTL: seconds(60),
  LANYARD_LOGIN_TTL: seconds(600),
  LANYARD_TRUST_PROXY: z.stringbool().default(false),
  LANYARD_METADATA_REFRESH_MINUTES: z.coerce.number().int().min(0).max(10_080).default(720),
});

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
}

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<LanyardConfig> = {}): LanyardConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const publicUrl = (e.LANYARD_PUBLIC_URL ?? `http://${e.LANYARD_HOST}:${e.LANYARD_PORT}`).replace(/\/+$/, '');
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
    ...overrides,
  };
}
