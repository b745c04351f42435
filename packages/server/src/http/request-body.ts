import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { ContentTooLargeError, InvalidParameterError } from '../errors.ts';
import { findUnstorableText } from '../storage/storable-values.ts';
import { nodeRequestOf, requestHeader } from './request-headers.ts';

/** The largest request body Lanyard reads, in bytes: SAML responses are the largest legitimate ones. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/**
 * Refuses a body over MAX_REQUEST_BODY_BYTES with 413 (ContentTooLargeError). Under Node a declared
 * Content-Length is checked here and a chunked body while `readBodyText` reads it; without a Node
 * request (`app.request()` in tests) Hono's body limit does both. GET and HEAD carry no body.
 */
export function limitRequestBody(): MiddlewareHandler {
  const honoLimit = bodyLimit({
    maxSize: MAX_REQUEST_BODY_BYTES,
    onError: () => {
      throw new ContentTooLargeError(MAX_REQUEST_BODY_BYTES);
    },
  });
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const incoming = nodeRequestOf(c);
    if (!incoming) return honoLimit(c, next);
    const declared = incoming.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_REQUEST_BODY_BYTES) throw new ContentTooLargeError(MAX_REQUEST_BODY_BYTES);
    return next();
  };
}

const bodyBytes = new WeakMap<object, Promise<Buffer>>();

/**
 * The request body's bytes, read once per request (later calls get the same bytes). Under Node
 * they come straight from the IncomingMessage: asking Hono (`c.req.text()`) makes
 * @hono/node-server build a WHATWG Request and stream first: 130–250 µs a request in the
 * measurements of docs/benchmarks.md, fifth round.
 * @throws ContentTooLargeError (413) past MAX_REQUEST_BODY_BYTES, counted as the bytes arrive.
 * @throws InvalidParameterError (400) when the client stops sending before the body ends.
 */
export function readBodyBytes(c: Context): Promise<Buffer> {
  const incoming = nodeRequestOf(c);
  const key: object = incoming ?? c.req.raw;
  let bytes = bodyBytes.get(key);
  if (!bytes) {
    bytes = incoming ? readIncoming(incoming) : c.req.arrayBuffer().then((buffer) => Buffer.from(buffer));
    bodyBytes.set(key, bytes);
  }
  return bytes;
}

/** The request body as text: UTF-8 with a leading byte-order mark dropped, as the Fetch API's `text()`. Throws as `readBodyBytes`. */
export async function readBodyText(c: Context): Promise<string> {
  const bytes = await readBodyBytes(c);
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function readIncoming(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (incoming.readableEnded) {
      reject(new InvalidParameterError('The request body was already read.'));
      return;
    }
    // A client that went away before the handler asked (e.g. while it awaited storage): its
    // request is already destroyed and will never emit 'end' or 'close' again.
    if (incoming.destroyed) {
      reject(new InvalidParameterError('The request body ended before its declared length: send the whole body.'));
      return;
    }
    // The first chunk is kept as it is (a whole small body usually comes in one); later ones are
    // copied into one buffer: a chunked body of one-byte chunks is a million Buffer objects
    // otherwise, hundreds of MB for a 1 MiB body.
    let first: Buffer | undefined;
    let buffer: Buffer | undefined;
    let size = 0;
    const declared = Number(incoming.headers['content-length']);
    const finish = (error?: Error) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onClose).off('close', onClose);
      if (error) reject(error);
      else resolve(buffer ? buffer.subarray(0, size) : (first ?? Buffer.alloc(0)));
    };
    const onData = (chunk: Buffer) => {
      const total = size + chunk.length;
      // The rest is left unread: the 413 closes the connection (error-response.ts).
      if (total > MAX_REQUEST_BODY_BYTES) {
        first = buffer = undefined;
        finish(new ContentTooLargeError(MAX_REQUEST_BODY_BYTES));
        return;
      }
      if (!first && !buffer) {
        first = chunk;
      } else {
        if (!buffer || buffer.length < total) {
          const wanted = Math.max(total, declared > 0 ? declared : 0, buffer ? buffer.length * 2 : 16 * 1024);
          const grown = Buffer.allocUnsafe(Math.min(wanted, MAX_REQUEST_BODY_BYTES));
          if (buffer) buffer.copy(grown, 0, 0, size);
          else first!.copy(grown, 0);
          buffer = grown;
          first = undefined;
        }
        chunk.copy(buffer, size);
      }
      size = total;
    };
    const onEnd = () => finish();
    const onClose = () => finish(new InvalidParameterError('The request body ended before its declared length: send the whole body.'));
    incoming.on('data', onData).on('end', onEnd).on('error', onClose).on('close', onClose);
  });
}

/** Parses a JSON body (or form body where the protocol says so) and validates it once, here (`parseWith`, with `options`). */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, options?: ParseOptions): Promise<z.infer<S>> {
  let body: unknown;
  const type = requestHeader(c, 'content-type') ?? '';
  const text = await readBodyText(c);
  try {
    body = type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text, refuseProtoKey);
  } catch (error) {
    if (error instanceof InvalidParameterError) throw error;
    throw new InvalidParameterError('The request body must be valid JSON.');
  }
  return parseWith(schema, body, options);
}

/**
 * JSON.parse makes `"__proto__"` an own key, but any later copy into a plain object (schema
 * validation, spreading) turns it into a prototype assignment, silently dropping or re-parenting
 * data. No Lanyard field or attribute legitimately has that name: refuse it, naming it.
 */
function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new InvalidParameterError('"__proto__" is not accepted as a key in a JSON body.');
  return value;
}

export async function readForm(c: Context): Promise<Record<string, string>> {
  const params = await readFormParams(c);
  const form: Record<string, string> = Object.create(null);
  for (const [name, value] of params) {
    // RFC 6749 §3.1/§3.2: request and response parameters must not be included more than once.
    if (Object.hasOwn(form, name)) throw new InvalidParameterError(`${knownParameterName(name)} must not be repeated.`);
    form[name] = value;
  }
  return form;
}

/**
 * The form parameters Lanyard's endpoints read (RFC 6749, 7009, 7521/7523, 7636, 7662,
 * OIDC Core and RP-Initiated Logout, the Flex form exchange). Only these are ever named in an
 * error: any other name is the client's own text and is not quoted back.
 */
const KNOWN_FORM_PARAMETERS: ReadonlySet<string> = new Set([
  'grant_type',
  'code',
  'code_verifier',
  'redirect_uri',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'refresh_token',
  'scope',
  'token',
  'token_type_hint',
  'access_token',
  'response_type',
  'response_mode',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'connection',
  'prompt',
  'max_age',
  'id_token_hint',
  'post_logout_redirect_uri',
  'logout_hint',
  'ui_locales',
  'AuthCode',
  'CodeVerifier',
  'ClientId',
  'RedirectUrl',
  'Nonce',
]);

/** `name` when it is one of ours (`KNOWN_FORM_PARAMETERS`), else a neutral phrase: never client text. */
export function knownParameterName(name: string): string {
  return KNOWN_FORM_PARAMETERS.has(name) ? name : 'A parameter';
}

/** The form body with repeated parameters kept (for protocols that must refuse repeats). */
export async function readFormParams(c: Context): Promise<URLSearchParams> {
  const type = requestHeader(c, 'content-type') ?? '';
  if (!type.includes('application/x-www-form-urlencoded'))
    throw new InvalidParameterError('The request body must be application/x-www-form-urlencoded.');
  return new URLSearchParams(await readBodyText(c));
}

export interface ParseOptions {
  /**
   * `true` where the input stands for what an IdP may send (the mapping dry run), which a sign-in
   * checks field by field; otherwise text no database keeps as sent is refused.
   */
  allowUnstorableText?: boolean;
}

/**
 * Validates an admin API or CLI input (the same schemas for both) once, at the edge.
 * @throws InvalidParameterError (400) naming the first field in error: one the schema refuses, or
 *   one holding text no database keeps as sent (a NUL, an unpaired surrogate: storage/storable-values.ts).
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, options: ParseOptions = {}): z.infer<S> {
  const unstorable = options.allowUnstorableText ? undefined : findUnstorableText(input);
  if (unstorable) throw new InvalidParameterError(`${unstorable.field || 'body'}: ${unstorable.problem}; send it without that character.`);
  const result = schema.safeParse(input);
  if (!result.success) {
    const { issues } = result.error;
    // A field sent under another name (`uniqueId` for `unique_id`) first: it is also why the field is missing.
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
    const field = fieldName(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const sent = issue.path.length === 0 && typeof input === 'object' && input !== null ? input : undefined;
      throw new InvalidParameterError(`${field}: ${unknownFields(issue.keys, sent && schema, sent)}`);
    }
    if (issue.path.length > 0 && valueAt(input, issue.path) === undefined)
      throw new InvalidParameterError(`${field}: required, and missing from the request.`);
    throw new InvalidParameterError(`${field}: ${issue.message}`);
  }
  return result.data;
}

/** Field names quoted back in an error: plain identifiers only (other client text never is). */
const QUOTABLE_FIELD = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/** An issue's path as a field name; a key that is not a plain identifier (a record key the client chose) is not quoted back. */
function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.map((key) => (typeof key === 'number' || (typeof key === 'string' && QUOTABLE_FIELD.test(key)) ? String(key) : '(a key)')).join('.') ||
    'body'
  );
}

/** What the client sent at `path` (own properties only), or undefined. */
function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || typeof key === 'symbol' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/**
 * The refusal of fields a strict body does not accept, naming them (when they are plain
 * identifiers) and, where the schema has the field under its snake_case name and the body
 * (`sent`) does not have it already, that name.
 */
function unknownFields(keys: readonly string[], schema: z.ZodType | undefined, sent: object | undefined): string {
  const shape = schema && 'shape' in schema && typeof schema.shape === 'object' && schema.shape !== null ? schema.shape : undefined;
  const named = keys.filter((key) => QUOTABLE_FIELD.test(key)).slice(0, 5);
  if (named.length === 0) return 'has fields that are not accepted; send only the documented ones.';
  const described = named.map((key) => {
    const snake = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    const guess = snake !== key && shape && Object.hasOwn(shape, snake) && !(sent && Object.hasOwn(sent, snake));
    return guess ? `"${key}" (did you mean "${snake}"?)` : `"${key}"`;
  });
  const more = keys.length > named.length ? ' and others' : '';
  return `unknown field${keys.length === 1 ? '' : 's'} ${described.join(', ')}${more}; send only the documented ones.`;
}
