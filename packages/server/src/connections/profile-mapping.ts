import { MissingAttributeError, NoRecognisedRoleError, UnusableIdpValueError } from '../errors.ts';
import { unstorableText } from '../storage/storable-values.ts';
import type { AttributeMapping } from '../accounts/model.ts';
import type { UserProfile } from '../users/user-service.ts';

export const KNOWN_ROLES = ['admin', 'supervisor', 'agent'] as const;

/**
 * Attributes as the IdP sent them, every value a list (SAML attributes or OIDC claims). Names are
 * outside input: build with `emptyAttributes()` (no prototype) and read with `attributeValues`,
 * so that an attribute named `constructor` or `__proto__` is just a name.
 */
export type RawAttributes = Record<string, string[]>;

/** A null-prototype record for IdP attributes (an own `__proto__` key stays a plain key). */
export function emptyAttributes(): RawAttributes {
  return Object.create(null) as RawAttributes;
}

/** The values of one attribute, own properties only; anything that is not a list of strings is none. */
export function attributeValues(attributes: RawAttributes, name: string): string[] {
  if (!Object.hasOwn(attributes, name)) return [];
  const values: unknown = attributes[name];
  return Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [];
}

/** The role an administrator mapped an IdP value to (`role_values`), own properties only. */
export function mappedRole(mapping: AttributeMapping, value: string): string | undefined {
  if (!Object.hasOwn(mapping.roleValues, value)) return undefined;
  const role: unknown = mapping.roleValues[value];
  return typeof role === 'string' ? role : undefined;
}

/** Roles a sign-in may carry: the three Flex roles plus those the account declares (e.g. `wfo.*`). */
export function recognisedRoles(declaredRoles: readonly string[] = []): string[] {
  return [...new Set([...KNOWN_ROLES, ...declaredRoles.map((r) => r.toLowerCase())])];
}

/** What the mapping finds in the IdP's attributes, before any rule is enforced. */
export interface ProfileReading {
  fullName: string | undefined;
  email: string | undefined;
  /** Recognised or mapped roles, in the order they arrived. */
  roles: string[];
  /** Every role value the IdP sent (after splitting comma-separated values), before mapping. */
  receivedRoles: string[];
  /** Values neither recognised nor mapped: not put in tokens, shown in the test sign-in and audit. */
  droppedRoles: string[];
  imageUrl: string | undefined;
  /** NameID first, then the mandatory attributes, in the order a login checks them. */
  missing: string[];
}

/**
 * Reads the profile fields through the mapping and lists every mandatory one that is absent.
 * `declaredRoles` are the account's own roles, recognised beside admin, supervisor and agent.
 */
export function readProfile(
  uniqueId: string | undefined,
  attributes: RawAttributes,
  mapping: AttributeMapping,
  declaredRoles: readonly string[] = [],
): ProfileReading {
  const first = (names: string[]) =>
    names
      .map((n) => attributeValues(attributes, n).find((v) => v.trim() !== ''))
      .find((v) => v !== undefined)
      ?.trim();
  const fullName = first(mapping.full_name);
  const email = first(mapping.email);
  const receivedRoles = [
    ...new Set(
      mapping.roles
        .flatMap((n) => attributeValues(attributes, n))
        .flatMap((v) => v.split(','))
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  ];
  const recognised = new Set(recognisedRoles(declaredRoles));
  const roles: string[] = [];
  const droppedRoles: string[] = [];
  for (const value of receivedRoles) {
    const role = mappedRole(mapping, value) ?? (recognised.has(value.toLowerCase()) ? value.toLowerCase() : undefined);
    if (role === undefined) droppedRoles.push(value);
    else if (!roles.includes(role)) roles.push(role);
  }
  const missing = [
    ...(uniqueId ? [] : ['NameID']),
    ...(fullName ? [] : ['full_name']),
    ...(email ? [] : ['email']),
    ...(receivedRoles.length > 0 ? [] : ['roles']),
  ];
  return { fullName, email, roles, receivedRoles, droppedRoles, imageUrl: first(mapping.image_url), missing };
}

/** The refusal a reading leads to (45050), or null when it makes a complete profile. */
export function refusalOf(reading: ProfileReading, declaredRoles: readonly string[] = []): MissingAttributeError | NoRecognisedRoleError | null {
  if (reading.missing.length > 0) return new MissingAttributeError(reading.missing[0]!);
  if (reading.roles.length === 0) return new NoRecognisedRoleError(reading.receivedRoles, recognisedRoles(declaredRoles));
  return null;
}

/**
 * Turns an IdP's attributes into a Lanyard user profile. `full_name`, `email` and `roles` are
 * mandatory (SPEC, error 45050 naming the attribute), and at least one role must be recognised
 * (admin, supervisor, agent, the account's declared roles) or mapped (`mapping.roleValues`);
 * other values are dropped and returned in `droppedRoles` for the audit. Roles may be
 * multi-valued or a comma-separated string.
 *
 * @throws MissingAttributeError | NoRecognisedRoleError (45050)
 */
export function mapProfile(
  uniqueId: string | undefined,
  attributes: RawAttributes,
  mapping: AttributeMapping,
  declaredRoles: readonly string[] = [],
): UserProfile & { droppedRoles: string[] } {
  const reading = readProfile(uniqueId, attributes, mapping, declaredRoles);
  const refusal = refusalOf(reading, declaredRoles);
  if (refusal) throw refusal;
  const unusable = unstorableRefusalOf(reading);
  if (unusable) throw unusable;
  return {
    uniqueId: uniqueId!,
    fullName: reading.fullName!,
    email: reading.email!,
    roles: reading.roles,
    imageUrl: reading.imageUrl ?? null,
    attributes,
    droppedRoles: reading.droppedRoles,
  };
}

/**
 * The refusal (45050) of a profile field whose value no backend stores as sent (a NUL, an
 * unpaired surrogate: storage/storable-values.ts), naming the field as a missing one is named;
 * null when every field can be stored.
 */
export function unstorableRefusalOf(reading: ProfileReading): UnusableIdpValueError | null {
  const fields: Array<[string, string | undefined]> = [
    ['full_name', reading.fullName],
    ['email', reading.email],
    ['image_url', reading.imageUrl],
    // The roles kept; values dropped as unrecognised are only quoted in the audit, which stores
    // such a character as U+FFFD (storage/storable-values.ts).
    ...reading.roles.map((role): [string, string] => ['roles', role]),
  ];
  for (const [field, value] of fields) {
    const problem = value === undefined ? undefined : unstorableText(value);
    if (problem)
      return new UnusableIdpValueError(
        `attribute "${field}"`,
        problem,
        'Correct the value at the identity provider, in the attribute or claim this connection maps to it ("Attributes and roles").',
      );
  }
  return null;
}

/** Audit wording for a successful sign-in that dropped role values; null when none was dropped. */
export function droppedRolesNote(droppedRoles: readonly string[]): string | null {
  if (droppedRoles.length === 0) return null;
  return `signed in without the role values the account does not recognise: ${quoteList(droppedRoles)} (map them under "Role values" or declare them as account roles to keep them)`;
}

/** `"a", "b", "c" and 7 more`: IdPs may send hundreds of group IDs. */
export function quoteList(values: readonly string[], max = 10): string {
  const shown = values.slice(0, max).map((v) => `"${v.slice(0, 100)}"`);
  return values.length > max ? `${shown.join(', ')} and ${values.length - max} more` : shown.join(', ');
}
