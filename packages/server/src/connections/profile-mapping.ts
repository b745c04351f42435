import { MissingAttributeError } from '../errors.ts';
import type { AttributeMapping } from '../accounts/model.ts';
import type { UserProfile } from '../users/user-service.ts';

export const KNOWN_ROLES = ['admin', 'supervisor', 'agent'] as const;

/** Attributes as the IdP sent them, every value a list (SAML attributes or OIDC claims). */
export type RawAttributes = Record<string, string[]>;

/** What the mapping finds in the IdP's attributes, before any rule is enforced. */
export interface ProfileReading {
  fullName: string | undefined;
  email: string | undefined;
  roles: string[];
  imageUrl: string | undefined;
  /** NameID first, then the mandatory attributes, in the order a login checks them. */
  missing: string[];
}

/** Reads the profile fields through the mapping and lists every mandatory one that is absent. */
export function readProfile(uniqueId: string | undefined, attributes: RawAttributes, mapping: AttributeMapping): ProfileReading {
  const first = (names: string[]) =>
    names
      .map((n) => attributes[n]?.find((v) => v.trim() !== ''))
      .find((v) => v !== undefined)
      ?.trim();
  const fullName = first(mapping.full_name);
  const email = first(mapping.email);
  const rawRoles = mapping.roles.flatMap((n) => attributes[n] ?? []).flatMap((v) => v.split(','));
  const roles = [
    ...new Set(
      rawRoles
        .map((r) => r.trim())
        .filter(Boolean)
        .map((r) => mapping.roleValues[r] ?? r.toLowerCase()),
    ),
  ];
  const missing = [
    ...(uniqueId ? [] : ['NameID']),
    ...(fullName ? [] : ['full_name']),
    ...(email ? [] : ['email']),
    ...(roles.length > 0 ? [] : ['roles']),
  ];
  return { fullName, email, roles, imageUrl: first(mapping.image_url), missing };
}

/**
 * Turns an IdP's attributes into a Lanyard user profile. `full_name`, `email` and `roles` are
 * mandatory (SPEC, error 45050 naming the attribute). Roles may be multi-valued or a
 * comma-separated string; `mapping.roleValues` translates IdP groups to roles.
 */
export function mapProfile(uniqueId: string | undefined, attributes: RawAttributes, mapping: AttributeMapping): UserProfile {
  const reading = readProfile(uniqueId, attributes, mapping);
  if (reading.missing.length > 0) throw new MissingAttributeError(reading.missing[0]!);
  return {
    uniqueId: uniqueId!,
    fullName: reading.fullName!,
    email: reading.email!,
    roles: reading.roles,
    imageUrl: reading.imageUrl ?? null,
    attributes,
  };
}

/** node-saml gives a value or a list; nested XML values are dropped. */
export function normalizeSamlAttributes(attributes: Record<string, unknown> | undefined): RawAttributes {
  const out: RawAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
    if (values.length > 0) out[name] = values;
  }
  return out;
}
