import { createHash } from 'node:crypto';
import { UnstorableValueError } from '../errors.ts';
import type { NewRecord } from './port.ts';

/**
 * Text both backends store and find alike. PostgreSQL refuses a NUL (U+0000) in TEXT and JSONB
 * (SQLSTATE 22021, 22P05), refuses an unpaired UTF-16 surrogate in JSONB (22P02) and turns it
 * into U+FFFD in TEXT, where two different keys would then collide; SQLite stores both. Handled
 * here, before either backend sees a record (`storablePayload`), so that both keep and refuse the
 * same records instead of one of them answering 500.
 */

/** A UTF-16 surrogate without its pair: not Unicode text (a JavaScript string can hold one; UTF-8 cannot). */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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
const UNSTORABLE_ESCAPES = /((?<!\\)(?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/**
 * The payload of `record` as a backend stores it (JSON), with its keys checked. A key (id,
 * lookup, family, account SID) holding a NUL or an unpaired surrogate, or past MAX_KEY_BYTES, is
 * refused: it would find another record, or none. In payload text each such character becomes
 * U+FFFD, as UTF-8 encoding does to an unpaired surrogate: outside input is refused before it
 * gets here, with its field named (request-body.ts `parseWith`, users/unique-id.ts,
 * connections/profile-mapping.ts, the authorization endpoints), so what is replaced is text
 * Lanyard composed around outside text (an audit reason quoting an IdP's message) or a record a
 * release before these checks stored on SQLite, which an update (a revocation) must not fail on.
 * @throws UnstorableValueError (400) naming the key's problem.
 */
export function storablePayload(record: NewRecord<unknown>): string {
  for (const key of [record.id, record.lookup, record.family, record.accountSid]) {
    if (typeof key !== 'string') continue;
    const problem = keyProblem(key);
    if (problem) throw new UnstorableValueError(`an identifier ${problem}`);
  }
  const json = JSON.stringify(record.payload);
  return json.includes('\\u') ? json.replace(UNSTORABLE_ESCAPES, '$1\\ufffd') : json;
}

/**
 * `key` when a backend can store it, else a digest of it (`sha256:` and 64 hex digits): for keys
 * built from outside text that must stay one-to-one (an assertion's issuer and ID, SAML replay).
 */
export function storableKey(key: string): string {
  return isStorableKey(key) ? key : `sha256:${createHash('sha256').update(key, 'utf16le').digest('hex')}`;
}

/** Whether every backend can keep `key` as a record's key (no NUL or unpaired surrogate, at most MAX_KEY_BYTES). */
export function isStorableKey(key: string): boolean {
  return keyProblem(key) === undefined;
}

function keyProblem(key: string): string | undefined {
  return unstorableText(key) ?? (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES ? tooLong(key) : undefined);
}

function tooLong(key: string): string {
  return `is ${Buffer.byteLength(key, 'utf8').toLocaleString('en-US')} bytes long in UTF-8 (at most ${MAX_KEY_BYTES.toLocaleString('en-US')})`;
}

/** Field names that are ours to quote (camelCase or snake_case words); any other key is outside text and is not echoed. */
const QUOTABLE_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * The first string in `value` (a parsed JSON document, a record's payload) that no backend keeps
 * as sent, with where it is: `urls[0]`, `mapping.full_name[1]`, `…` for a key that is not ours to
 * quote; `field` is '' for `value` itself. Undefined when every string can be stored.
 */
export function findUnstorableText(value: unknown, path = ''): { field: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    return problem ? { field: path, problem } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const field = Array.isArray(value) ? `${path}[${key}]` : `${path}${path ? '.' : ''}${QUOTABLE_FIELD.test(key) ? key : '…'}`;
    const keyProblem = Array.isArray(value) ? undefined : unstorableText(key);
    if (keyProblem) return { field: path, problem: `has a key that ${keyProblem}` };
    const found = findUnstorableText(inner, field);
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
