import { attributeValues, emptyAttributes, type RawAttributes } from './profile-mapping.ts';

/** Deep enough for `resource_access.<client>.roles`; bounded against a hostile provider. */
const MAX_DEPTH = 4;
const MAX_ATTRIBUTES = 500;

/**
 * OpenID Connect claims as attributes a mapping can name. Scalars and lists of scalars keep their
 * claim name; values inside JSON objects are reached by a dotted claim path, as Keycloak's
 * `realm_access.roles` and `resource_access.<client>.roles`. Later sources (userinfo) add to what
 * earlier ones (the ID token) gave. Keys are outside input: the record has no prototype.
 */
export function addClaims(attributes: RawAttributes, claims: Record<string, unknown>): RawAttributes {
  const visit = (path: string, value: unknown, depth: number) => {
    if (Object.keys(attributes).length >= MAX_ATTRIBUTES) return;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (depth >= MAX_DEPTH) return;
      for (const [key, inner] of Object.entries(value)) visit(path ? `${path}.${key}` : key, inner, depth + 1);
      return;
    }
    const values = (Array.isArray(value) ? value : [value])
      .filter((v): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v))
      .map(String);
    if (values.length > 0) attributes[path] = [...new Set([...attributeValues(attributes, path), ...values])];
  };
  visit('', claims, 0);
  return attributes;
}

/** Claims (possibly nested) as the admin's dry run receives them, as attributes. */
export function claimsAsAttributes(claims: Record<string, unknown>): RawAttributes {
  return addClaims(emptyAttributes(), claims);
}
