import { writeSync } from 'node:fs';
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
  if (code === 'EAGAIN') return 'the program reading stdout (a pipe) has not kept up for 5 s: check it is running and reading';
  if (code === 'EDQUOT') return 'raise the disk quota of the user Lanyard runs as, or free space under it';
  if (code === 'EFBIG') {
    return "the file stdout writes to reached the process's file size limit (ulimit -f): empty it in place (logrotate's copytruncate; Lanyard does not reopen a file renamed away) or restart Lanyard with a higher limit";
  }
  return 'check the file or device stdout writes to';
}

/**
 * Where a failure to write log lines is told: stderr, once per failure (the stdout it happens
 * on cannot say it). A failure of stderr itself is ignored: logging never stops the server.
 */
function tellOnStderr(line: string): void {
  try {
    // Not process.stderr: on a full disk it reports the failure as an 'error' event, which
    // nothing may be listening to (an embedding application) and then stops the process.
    writeSync(2, `${line}\n`);
  } catch {
    // stderr is unusable too: nothing else to tell it on.
  }
}

/** While stdout fails, how often the held lines are tried again (ms), so that a node that logs nothing meanwhile still writes them. */
const RETRY_HELD_MS = 1000;
/** A pipe whose reader is slow (EAGAIN) is told only once it has not read for this long (ms): short stalls are normal. */
const STALL_TOLD_AFTER_MS = 5000;

/** The program reading the logs is gone (EPIPE): nothing more is written, held lines are dropped, as pino does on a first EPIPE. */
function endLogging(stream: DestinationStream & { end?: () => void; flushSync?: () => void; destroy?: () => void }): void {
  const nothing = () => undefined;
  stream.write = () => true;
  stream.end = nothing;
  stream.flushSync = nothing;
  stream.destroy = nothing;
}

/**
 * Stdout, written synchronously, that holds lines while it cannot be written (up to
 * HELD_LOG_BYTES, then drops and counts them), says so once on stderr, tries the held lines
 * again with each new line and every RETRY_HELD_MS, and calls `onRecovered` with the error code
 * and the lines dropped once they are written. A pipe whose reader stalls (EAGAIN) is held the
 * same way (sonic-boom's own retry sleeps on the event loop, which stops the server), and told
 * only when it lasts STALL_TOLD_AFTER_MS.
 */
function heldStdout(onRecovered: (failure: string, dropped: number) => void): DestinationStream {
  const stdout = pino.destination({ dest: 1, sync: true, maxLength: HELD_LOG_BYTES, retryEAGAIN: () => false });
  let failure: { code: string; since: number; told: boolean } | undefined;
  let dropped = 0;
  let errors = 0;
  let retry: NodeJS.Timeout | undefined;
  const tell = (error: NodeJS.ErrnoException) => {
    failure!.told = true;
    tellOnStderr(
      `lanyard: log lines cannot be written to stdout (${error.message}); serving goes on. ` +
        `Up to ${HELD_LOG_BYTES / 1024 / 1024} MiB of them are held and written once stdout takes them again: ${remedyFor(error.code)}`,
    );
  };
  const recovered = () => {
    const ended = failure!;
    const lost = dropped;
    [failure, dropped] = [undefined, 0];
    clearInterval(retry);
    if (ended.told || lost > 0) onRecovered(ended.code, lost);
  };
  stdout.on('drop', () => dropped++);
  // pino's listener ends logging on the first error if it is EPIPE, and otherwise hands it on to
  // this one and stops listening: a reader that goes away later (after a stall) is ended here.
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    errors++;
    if (error.code === 'EPIPE') {
      endLogging(stdout);
      clearInterval(retry);
      failure = undefined;
      return;
    }
    if (failure) {
      if (!failure.told && Date.now() - failure.since >= STALL_TOLD_AFTER_MS) tell(error);
      return;
    }
    failure = { code: error.code ?? error.message, since: Date.now(), told: false };
    if (error.code !== 'EAGAIN') tell(error);
    // An empty write tries the held lines again (a full buffer takes no more lines, so no new line would).
    retry = setInterval(() => stdout.write(''), RETRY_HELD_MS);
    retry.unref();
  });
  stdout.on('write', () => {
    if (!failure) return;
    const seen = errors;
    // Decided once the write is over: one that went out in part, then failed, is no recovery.
    setImmediate(() => {
      if (failure && errors === seen) recovered();
    });
  });
  return stdout;
}

/**
 * A pino logger behind Lanyard's small `Logger` interface. `write` receives each line without
 * its newline (tests collect them); by default lines go to stdout synchronously, so nothing is
 * lost when the process exits right after logging.
 *
 * Logging never takes the server down: when stdout cannot be written (ENOSPC on a full disk,
 * EFBIG, EDQUOT, EIO, a stalled pipe's EAGAIN), the server goes on serving, says so once on stderr, holds up to
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
    info: (message, fields) => log.info(ownFields(fields), message),
    warn: (message, fields) => log.warn(ownFields(fields), message),
    error: (message, fields) => log.error(ownFields(fields), message),
  };
}

/** The keys every line has itself (`{"level","time","message"}`). */
const LINE_KEYS = new Set(['level', 'time', 'message']);

/**
 * `fields` without a key a line has itself: such a key is written as `field_<key>`. A second
 * `"message"` in one JSON object is kept by some parsers and dropped by others (JSON.parse keeps
 * the last), so a caller's field would hide the line's own message, or the other way round.
 */
function ownFields(fields: Record<string, unknown> = {}): Record<string, unknown> {
  if (!Object.keys(fields).some((key) => LINE_KEYS.has(key))) return fields;
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [LINE_KEYS.has(key) ? `field_${key}` : key, value]));
}
