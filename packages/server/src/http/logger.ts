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

/** Log output held while stdout cannot take it (a full disk, an I/O error): 16 MiB, then lines are dropped. */
export const HELD_LOG_BYTES = 16 * 1024 * 1024;

/** What to do about a failed write to stdout, by its error code. */
function remedyFor(code: string | undefined): string {
  if (code === 'ENOSPC') return 'free space on the volume stdout writes to';
  if (code === 'EDQUOT') return 'raise the disk quota of the user Lanyard runs as, or free space under it';
  if (code === 'EFBIG') return "the file stdout writes to reached the process's file size limit (ulimit -f): rotate the file or raise the limit";
  return 'check the file or device stdout writes to';
}

/**
 * Where a failure to write log lines is told: stderr, once per failure (the stdout it happens
 * on cannot say it). A failure of stderr itself is ignored: logging never stops the server.
 */
function tellOnStderr(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr is unusable too: nothing else to tell it on.
  }
}

/**
 * Stdout, written synchronously, that holds lines while it cannot be written (up to
 * HELD_LOG_BYTES, then drops and counts them), says so once on stderr, and calls `onRecovered`
 * with the error code and the lines dropped once a write succeeds again.
 */
function heldStdout(onRecovered: (failure: string, dropped: number) => void): DestinationStream {
  const stdout = pino.destination({ dest: 1, sync: true, maxLength: HELD_LOG_BYTES });
  let failure: string | undefined;
  let dropped = 0;
  stdout.on('drop', () => dropped++);
  // pino's own listener ends logging on EPIPE and hands any other error on to this one.
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (failure !== undefined || error.code === 'EPIPE') return;
    failure = error.code ?? error.message;
    tellOnStderr(
      `lanyard: log lines cannot be written to stdout (${error.message}); serving goes on. ` +
        `Up to ${HELD_LOG_BYTES / 1024 / 1024} MiB of them are held and written once stdout takes them again: ${remedyFor(error.code)}`,
    );
  });
  stdout.on('write', () => {
    if (failure === undefined) return;
    const [what, lost] = [failure, dropped];
    [failure, dropped] = [undefined, 0];
    // Not from inside the stream's own write.
    setImmediate(() => onRecovered(what, lost));
  });
  return stdout;
}

/**
 * A pino logger behind Lanyard's small `Logger` interface. `write` receives each line without
 * its newline (tests collect them); by default lines go to stdout synchronously, so nothing is
 * lost when the process exits right after logging.
 *
 * Logging never takes the server down: when stdout cannot be written (ENOSPC on a full disk,
 * EIO), the server goes on serving, says so once on stderr, holds up to
 * HELD_LOG_BYTES of lines and writes them once stdout takes them again, then logs how many
 * lines were dropped meanwhile. A closed pipe (EPIPE: the log reader is gone) ends logging.
 */
export function jsonLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const destination: DestinationStream = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    : heldStdout((failure, dropped) =>
        log.warn(
          { log_failure: failure, dropped_lines: dropped },
          `log lines could be written to stdout again after ${failure}; ${dropped === 0 ? 'none were' : `${dropped} were`} dropped meanwhile`,
        ),
      );
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
