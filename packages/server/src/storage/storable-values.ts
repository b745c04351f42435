import { UnstorableValueError } from '../errors.ts';
import type { NewRecord } from './port.ts';

/**
 * Text both backends store and find alike. PostgreSQL refuses a NUL (U+0000) in TEXT and JSONB
 * (SQLSTATE 22021, 22P05), refuses an unpaired UTF-16 surrogate in JSONB (22P02) and turns it
 * into U+FFFD in TEXT, where two different keys would then collide; SQLite stores both. Checked
 * here, before either backend sees a record, so that both refuse the same records with the same
 * 400 (UnstorableValueError) instead of a 500 on one of them.
 */

/** A UTF-16 surrogate without its pair: not Unicode text (a JavaScript string can hold one; UTF-8 cannot). */
export const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The longest key (id, lookup, family, account SID) a record may have, in UTF-8 bytes. A B-tree
 * entry of PostgreSQL holds at most 2,704 bytes (SQLSTATE 54000 past it), the record's kind included.
 */
export const MAX_KEY_BYTES = 2048;

/** What in `text` no backend can store alike, as words for an error message; undefined when it can be stored. */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'holds a NUL character (U+0000)';
  if (UNPAIRED_SURROGATE.test(text)) return 'holds an unpaired UTF-16 surrogate (not Unicode text)';
  return undefined;
}

/**
 * JSON.stringify writes a NUL and an unpaired surrogate as `\u` escapes (and a paired one as
 * itself): an escape preceded by an even number of backslashes is one of them.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * Refuses a record a backend would refuse or alter: a key over MAX_KEY_BYTES, or a key or payload
 * string with a NUL or an unpaired surrogate. `payloadJson` is the payload as the backend stores it.
 * @throws UnstorableValueError (400) naming the problem and, for a payload, the field.
 */
export function assertStorable(record: NewRecord<unknown>, payloadJson: string): void {
  for (const key of [record.id, record.lookup, record.family, record.accountSid]) {
    if (typeof key !== 'string') continue;
    const problem =
      unstorableText(key) ?? (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES ? tooLong(key) : undefined);
    if (problem) throw new UnstorableValueError(`an identifier ${problem}`);
  }
  if (payloadJson.includes('\\u') && UNSTORABLE_ESCAPE.test(payloadJson)) {
    const found = firstUnstorable(record.payload, '');
    throw new UnstorableValueError(
      found ? `${found.field ? `the field ${found.field}` : 'a value'} ${found.problem}` : 'a value holds text no database can store',
    );
  }
}

function tooLong(key: string): string {
  return `is ${Buffer.byteLength(key, 'utf8').toLocaleString('en-US')} bytes long in UTF-8 (at most ${MAX_KEY_BYTES.toLocaleString('en-US')})`;
}

/** Field names that are ours to quote (camelCase or snake_case words); any other key is outside text and is not echoed. */
const QUOTABLE_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function firstUnstorable(value: unknown, path: string): { field: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    return problem ? { field: path, problem } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const field = Array.isArray(value) ? `${path}[${key}]` : `${path}${path ? '.' : ''}${QUOTABLE_FIELD.test(key) ? key : '…'}`;
    const keyProblem = Array.isArray(value) ? undefined : unstorableText(key);
    if (keyProblem) return { field: `a key of ${path || 'the record'}`, problem: keyProblem };
    const found = firstUnstorable(inner, field);
    if (found) return found;
  }
  return undefined;
}

/**
 * Whether a key a backend is asked to find can match no record stored since these checks: one
 * with a NUL (PostgreSQL would fail, SQLSTATE 22021) or an unpaired surrogate (either backend
 * would read it as U+FFFD and could find another record's key). Every backend's reads answer
 * "not found" for it without asking the database.
 */
export function matchesNoRecord(key: string): boolean {
  return unstorableText(key) !== undefined;
}
