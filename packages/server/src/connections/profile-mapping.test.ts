import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAPPING, type AttributeMapping } from '../accounts/model.ts';
import { LanyardError } from '../errors.ts';
import { emptyAttributes, mapProfile, readProfile, type RawAttributes } from './profile-mapping.ts';

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

const attributes = (entries: Record<string, string[]>): RawAttributes => {
  const out = emptyAttributes();
  for (const [k, v] of Object.entries(entries)) out[k] = v;
  return out;
};
const base = { full_name: ['Ada'], email: ['ada@example.com'] };

describe('roles', () => {
  it('keeps recognised roles, lower-cased, and drops the rest', () => {
    const reading = readProfile('ada', attributes({ ...base, roles: ['Agent', 'g-1234', 'supervisor', 'agent'] }), DEFAULT_MAPPING);
    expect(reading.roles).toEqual(['agent', 'supervisor']);
    expect(reading.droppedRoles).toEqual(['g-1234']);
  });

  it("recognises the account's declared roles and mapped values", () => {
    const mapping: AttributeMapping = { ...DEFAULT_MAPPING, roleValues: { 'cc-sup': 'supervisor' } };
    const profile = mapProfile('ada', attributes({ ...base, roles: ['wfo.full_access', 'cc-sup', 'other'] }), mapping, ['wfo.full_access']);
    expect(profile.roles).toEqual(['wfo.full_access', 'supervisor']);
    expect(profile.droppedRoles).toEqual(['other']);
  });

  it('refuses a sign-in whose role values are all unrecognised, naming what arrived (Entra group IDs)', () => {
    const groups = Array.from({ length: 150 }, (_, i) => `0000000${i}-aaaa-bbbb-cccc-dddddddddddd`);
    expect(() => mapProfile('ada', attributes({ ...base, roles: groups }), DEFAULT_MAPPING)).toThrow(
      expect.objectContaining({ code: 45050, message: expect.stringMatching(/"00000000-aaaa.*and 140 more.*admin, supervisor, agent/) }),
    );
  });

  it('a user whose only role is a prototype member name is refused, whatever the name', () => {
    for (const name of PROTOTYPE_NAMES) {
      expect(() => mapProfile('ada', attributes({ ...base, roles: [name] }), DEFAULT_MAPPING), name).toThrow(/None of the roles/);
    }
  });
});

describe('prototype member names are plain names (property)', () => {
  const protoName = fc.constantFrom(...PROTOTYPE_NAMES);
  const name = fc.oneof(protoName, fc.constantFrom('roles', 'email', 'full_name', 'groups'), fc.string({ minLength: 1, maxLength: 12 }));

  it('mapping names, attribute names, role values and role-value keys never break the mapping or leak non-strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, fc.array(fc.oneof(name, fc.constantFrom('admin', 'agent')), { maxLength: 3 })), { maxLength: 6 }),
        fc.record({
          full_name: fc.array(name, { minLength: 1, maxLength: 3 }),
          email: fc.array(name, { minLength: 1, maxLength: 3 }),
          roles: fc.array(name, { minLength: 1, maxLength: 3 }),
        }),
        fc.array(fc.tuple(name, fc.constantFrom('admin', 'agent', 'supervisor')), { maxLength: 3 }),
        fc.array(name, { maxLength: 2 }),
        (entries, names, roleValuePairs, declared) => {
          const roleValues = Object.create(null) as Record<string, string>;
          for (const [k, v] of roleValuePairs) roleValues[k] = v;
          const mapping: AttributeMapping = { ...names, image_url: [], roleValues };
          const raw = emptyAttributes();
          for (const [k, v] of entries) raw[k] = v;
          let result: ReturnType<typeof mapProfile> | undefined;
          try {
            result = mapProfile('ada', raw, mapping, declared);
          } catch (error) {
            expect(error).toBeInstanceOf(LanyardError);
            return;
          }
          expect(typeof result.fullName).toBe('string');
          expect(typeof result.email).toBe('string');
          expect(result.roles.length).toBeGreaterThan(0);
          for (const role of result.roles) expect(typeof role).toBe('string');
          // Every kept role was sent by the IdP under a mapped name (or is a mapped value's target).
          const sent = mapping.roles.flatMap((n) => (Object.hasOwn(raw, n) ? raw[n]! : [])).flatMap((v) => v.split(',').map((s) => s.trim()));
          for (const role of result.roles) {
            const fromMapping = sent.some((v) => Object.hasOwn(roleValues, v) && roleValues[v] === role);
            expect(fromMapping || sent.some((v) => v.toLowerCase() === role)).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
