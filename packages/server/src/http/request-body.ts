import type { Context } from 'hono';
import type { z } from 'zod';
import { InvalidParameterError } from '../errors.ts';

/** Parses a JSON body (or form body where the protocol says so) and validates it once, here. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  const type = c.req.header('content-type') ?? '';
  try {
    body = type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(await c.req.text())) : await c.req.json();
  } catch {
    throw new InvalidParameterError('The request body must be valid JSON.');
  }
  return parseWith(schema, body);
}

export async function readForm(c: Context): Promise<Record<string, string>> {
  return Object.fromEntries(await readFormParams(c));
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
    throw new InvalidParameterError(`${field}: ${issue.message}`);
  }
  return result.data;
}
