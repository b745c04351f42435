import { pino, stdTimeFunctions, type DestinationStream } from 'pino';

/**
 * Structured logs: one JSON object per line, `{"level":"info","time":"<ISO 8601>","message":…,
 * …fields}`. Secrets never reach here — callers pass ids, not tokens — and as a second line of
 * defence the fields that carry credentials on the wire are redacted if a caller ever passes one.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = 'info' | 'warn' | 'error' | 'silent';

/**
 * Field names of credentials on Lanyard's wire (OAuth, Flex, SAML, admin). `code` is not here:
 * it names Lanyard's error codes in `request failed` lines; authorization codes are never passed.
 */
const REDACTED = [
  'authorization',
  'cookie',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'code_verifier',
  'client_secret',
  'auth_token',
  'admin_key',
  'password',
  'secret',
  'SAMLResponse',
  'RelayState',
];

/**
 * A pino logger behind Lanyard's small `Logger` interface. `write` receives each line without
 * its newline (tests collect them); by default lines go to stdout synchronously, so nothing is
 * lost when the process exits right after logging.
 */
export function jsonLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const destination: DestinationStream = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    : pino.destination({ dest: 1, sync: true });
  const log = pino(
    {
      level,
      base: null,
      messageKey: 'message',
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    destination,
  );
  return {
    info: (message, fields = {}) => log.info(fields, message),
    warn: (message, fields = {}) => log.warn(fields, message),
    error: (message, fields = {}) => log.error(fields, message),
  };
}
