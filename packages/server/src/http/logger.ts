/** Structured JSON logs, one line each. Secrets never reach here: callers pass ids, not tokens. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  level: 'info' | 'warn' | 'error' | 'silent' = 'info',
  write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): Logger {
  const order = { info: 0, warn: 1, error: 2, silent: 3 };
  const log =
    (at: 'info' | 'warn' | 'error') =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (order[at] < order[level]) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: at, message, ...fields }));
    };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
