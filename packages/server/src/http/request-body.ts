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
  const type = c.req.header('content-type') ?? '';
  if (!type.includes('application/x-www-form-urlencoded'))
    throw new InvalidParameterError('The request body must be application/x-www-form-urlencoded.');
  return Object.fromEntries(new URLSearchParams(await c.req.text()));
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    throw new InvalidParameterError(`${field}: ${issue.message}`);
  }
  return result.data;
}
