import type { Context } from 'hono';
import type { z } from 'zod';
import { InvalidParameterError } from '../errors.ts';

/** Parses a JSON body (or form body where the protocol says so) and validates it once, here. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  const type = c.req.header('content-type') ?? '';
  const text = await c.req.text();
  try {
    body = type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text, refuseProtoKey);
  } catch (error) {
    if (error instanceof InvalidParameterError) throw error;
    throw new InvalidParameterError('The request body must be valid JSON.');
  }
  return parseWith(schema, body);
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
  const type = c.req.header('content-type') ?? '';
  if (!type.includes('application/x-www-form-urlencoded'))
    throw new InvalidParameterError('The request body must be application/x-www-form-urlencoded.');
  return new URLSearchParams(await c.req.text());
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    // zod's unrecognized_keys message lists the keys sent: client text, never quoted back.
    if (issue.code === 'unrecognized_keys')
      throw new InvalidParameterError(`${field}: has fields that are not accepted; send only the documented ones.`);
    throw new InvalidParameterError(`${field}: ${issue.message}`);
  }
  return result.data;
}
