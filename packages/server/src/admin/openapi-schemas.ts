import { z } from 'zod';
import { responseComponents } from './responses.ts';

/** JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type Json = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const COMPONENT = '#/components/schemas/';
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * The JSON Schema of a zod schema, for the OpenAPI document: a named component inside it
 * (`.meta({ id })`, responses.ts) becomes a `$ref` to `#/components/schemas/<id>`; a named
 * schema itself is generated whole. `io` is `input` for request bodies (what a client may send)
 * and `output` for responses. Response objects stay open (no `additionalProperties: false`: a
 * later version may add fields), and zod's regex for ISO times and its safe-integer bounds are
 * left out (`format` and `type: integer` say it).
 */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): Json {
  const generated = z.toJSONSchema(schema, {
    io,
    override: ({ jsonSchema: node }) => {
      if (node.format === 'date-time') delete node.pattern;
      if (node.type === 'integer' && node.minimum === -MAX_SAFE) delete node.minimum;
      if (node.type === 'integer' && node.maximum === MAX_SAFE) delete node.maximum;
      if (io === 'output' && node.additionalProperties === false) delete node.additionalProperties;
    },
  }) as Json;
  const { $schema: _schema, $defs, $ref, ...rest } = generated as Json & { $defs?: Record<string, Json>; $ref?: string };
  // zod puts a schema that has an id under $defs and refers to it from the root: take its body.
  const id = z.globalRegistry.get(schema)?.id;
  const body = id !== undefined && $ref === `#/$defs/${id}` && $defs?.[id] ? { ...rest, ...$defs[id] } : { ...rest, ...($ref ? { $ref } : {}) };
  return JSON.parse(JSON.stringify(body).replaceAll('"#/$defs/', `"${COMPONENT}`)) as Json;
}

/** `components.schemas`: every response component of responses.ts, by its id. */
export const componentSchemas: Record<string, Json> = Object.fromEntries(
  responseComponents.map((schema) => {
    const id = z.globalRegistry.get(schema)?.id;
    if (!id) throw new Error('Every response component needs .meta({ id }).');
    return [id, jsonSchema(schema)];
  }),
);
