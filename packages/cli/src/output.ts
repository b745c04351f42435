import { CommanderError } from 'commander';
import { LanyardError } from '@lanyard/server/errors.ts';
import type { Logger } from '@lanyard/server/http/logger.ts';

/** What a command produced: `data` is printed for --json (the admin API's wire shape), `text` for people. */
export interface Output {
  data: unknown;
  text: string;
  /** Non-zero when the command ran but its verdict is negative (e.g. an invalid token). */
  exitCode?: number;
}

/** Exit codes: 0 success, 1 failure, 2 bad input (usage errors and 4xx LanyardErrors). */
export const EXIT = { ok: 0, failure: 1, badInput: 2 } as const;

export function emit(output: Output, json: boolean): void {
  process.stdout.write(json ? JSON.stringify(output.data, null, 2) + '\n' : output.text.replace(/\n*$/, '\n'));
  if (output.exitCode) process.exitCode = output.exitCode;
}

/** Set by `serve`: its stdout is a log stream (a banner, then log lines), not a command's output. */
let stdoutIsLogs = false;

/**
 * For `serve`: what it writes to stdout (the listening banner, then log lines) is a log stream
 * whose failure (a full disk) the logger reports, once, and outlives (http/logger.ts); it is not
 * output a command failed to deliver, so it neither prints the output failure nor makes the
 * exit code 1 (a clean shutdown still exits 0).
 */
export function treatStdoutAsLogs(): void {
  stdoutIsLogs = true;
}

/**
 * A command's output that cannot be written never ends in a stack trace, and its exit code says
 * the output did not arrive: a secret shown once (`accounts create`, `admin-key create`) may be
 * in it. A reader that went away (EPIPE: `lanyard accounts list | head -1`) gets nothing more and
 * nothing is said (the reader chose to stop); any other failure of stdout (ENOSPC: `> /dev/full`,
 * EIO) is one line on stderr. Either way the exit code is 1 unless the command set another
 * failure code (2, bad input) first. A failure of stderr itself (notes, warnings) is ignored:
 * the exit code stays the command's. `serve`'s stdout is a log stream instead (treatStdoutAsLogs).
 */
export function guardOutputStreams(): void {
  let failed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (failed || stdoutIsLogs) return;
    failed = true;
    // Read when the process exits: a code the command sets after this (0 on success) must not win.
    process.on('exit', () => {
      if (!process.exitCode) process.exitCode = EXIT.failure;
    });
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') {
      process.stderr.write(`lanyard: could not write the output: ${oneLine(error.message)}\n`);
    }
  });
  process.stderr.on('error', () => undefined);
}

/** One clear line on stderr; a stack trace only when LANYARD_DEBUG=1. Returns the exit code. */
export function reportFailure(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  const debug = process.env.LANYARD_DEBUG === '1';
  const known = error instanceof LanyardError;
  // The detail (`more_info`) often holds the fix: the admin API shows it, so must the CLI.
  const detail = known && error.moreInfo ? ` ${error.moreInfo}` : '';
  const message = oneLine((error instanceof Error ? error.message : String(error)) + detail);
  process.stderr.write(`lanyard: ${message}${known || debug ? '' : ' (LANYARD_DEBUG=1 shows details)'}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
  return known && error.status >= 400 && error.status < 500 ? EXIT.badInput : EXIT.failure;
}

/** Commander's usage errors (`error: …` over several lines) in the same one-line form. */
export function writeUsageError(text: string, write: (line: string) => void): void {
  write(`lanyard: ${oneLine(text.replace(/^error: /, ''))} (see --help)\n`);
}

// "Heading:\n  a\n  b" becomes "Heading: a; b": one line, still readable.
const oneLine = (text: string) =>
  text
    .trim()
    .replace(/:\s*\n\s*/g, ': ')
    .replace(/\s*\n\s*/g, '; ');

/** Server warnings (e.g. a generated development key) as plain lines on stderr, never on stdout. */
export function cliLogger(): Logger {
  const debug = process.env.LANYARD_DEBUG === '1';
  const write =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      const details = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      process.stderr.write(`lanyard: ${level}: ${message}${details.length ? ` (${details.join(', ')})` : ''}\n`);
    };
  return { info: debug ? write('info') : () => undefined, warn: write('warning'), error: write('error') };
}

/** Left-aligned columns, for lists. */
export function table(rows: string[][], header?: string[]): string {
  // A cell is one line of data, often another party's (a user's name from the IdP): printable.
  const all = (header ? [header, ...rows] : rows).map((row) => row.map((cell) => printable(cell)));
  if (all.length === 0) return '';
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/**
 * Text another party wrote (an IdP's attributes or claims, a user's name) as it may reach a
 * terminal: every control character (C0, DEL, C1) shown escaped (`\x1b`), so that escape
 * sequences and carriage returns cannot retitle the terminal or overwrite what is printed.
 */
export function printable<T extends string | null | undefined>(text: T): T {
  return text?.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) as T;
}

/** `label  value` pairs, aligned; values printable (one line each). */
export function fields(pairs: Array<[string, string | null | undefined]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `  ${k.padEnd(width)}  ${printable(v) ?? '(none)'}`).join('\n');
}
