import { describe, expect, it } from 'vitest';
import { schemas } from '../admin/requests.ts';
import { parseWith } from './request-body.ts';

describe('parseWith: refusals of request bodies name the field and the fix', () => {
  const refusal = (schema: Parameters<typeof parseWith>[0], body: unknown) => {
    try {
      parseWith(schema, body);
    } catch (error) {
      return error as Error & { status?: number };
    }
    throw new Error('accepted');
  };

  it('names a field sent under its camelCase name, with the snake_case name the API has, before the field it leaves missing', () => {
    const error = refusal(schemas.relinkUser, { uniqueId: 'a7c1' });
    expect(error.status).toBe(400);
    expect(error.message).toBe('body: unknown field "uniqueId" (did you mean "unique_id"?); send only the documented ones.');
  });

  it('names unknown fields without a guess when the API has no such field, and quotes back only plain identifiers', () => {
    expect(refusal(schemas.relinkUser, { unique_id: 'a', colour: 'red' }).message).toBe(
      'body: unknown field "colour"; send only the documented ones.',
    );
    expect(refusal(schemas.relinkUser, { unique_id: 'a', '<img src=x>': 1 }).message).toBe(
      'body: has fields that are not accepted; send only the documented ones.',
    );
    expect(refusal(schemas.relinkUser, { unique_id: 'a', otherName: 1, '<b>': 2 }).message).toBe(
      'body: unknown fields "otherName" and others; send only the documented ones.',
    );
  });

  it('guesses no field the body has already', () => {
    expect(refusal(schemas.relinkUser, { unique_id: 'a', uniqueId: 'b' }).message).toBe(
      'body: unknown field "uniqueId"; send only the documented ones.',
    );
  });

  it('does not quote back a key the client chose that is not a plain identifier, in the field name either', () => {
    const error = refusal(schemas.mapping, { role_values: { '<img src=x onerror=alert(1)>': '' } });
    expect(error.message).toMatch(/^role_values\.\(a key\): /);
    expect(error.message).not.toContain('<img');
  });

  it('says a missing field is required, not that undefined has the wrong type', () => {
    expect(refusal(schemas.relinkUser, {}).message).toBe('unique_id: required, and missing from the request.');
    expect(refusal(schemas.relinkUser, { unique_id: 7 }).message).toMatch(/^unique_id: Invalid input: expected string, received number$/);
  });
});
