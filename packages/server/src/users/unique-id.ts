import { MissingAttributeError, SamlResponseError, UnusableIdpValueError } from '../errors.ts';
import { unstorableText } from '../storage/storable-values.ts';
import type { UniqueIdPolicy } from '../accounts/model.ts';
import type { RawAttributes } from '../connections/profile-mapping.ts';
import { isEmailForm } from './email-form.ts';

export type { UniqueIdPolicy };

export const DEFAULT_UNIQUE_ID_POLICY: UniqueIdPolicy = { attribute: null, caseInsensitiveEmail: true };

export const TRANSIENT_NAME_ID = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';

/** Whether `uniqueId` is compared in lower case under `policy`. */
export function foldsCase(uniqueId: string, policy: UniqueIdPolicy): boolean {
  return policy.caseInsensitiveEmail && isEmailForm(uniqueId);
}

/**
 * The unique id Lanyard provisions users under (SPEC "Users"), by the connection's policy. A
 * transient NameID (SAML core §8.3.8) is a new value at every sign-in: it would make a new user
 * each time, so it is refused unless an attribute supplies the id.
 */
export function resolveUniqueId(
  subject: { nameId: string | undefined; nameIdFormat?: string | undefined },
  attributes: RawAttributes,
  policy: UniqueIdPolicy = DEFAULT_UNIQUE_ID_POLICY,
): string | undefined {
  let id: string | undefined;
  if (policy.attribute) {
    id = attributes[policy.attribute]?.find((v) => v.trim() !== '')?.trim();
    if (!id) throw new MissingAttributeError(policy.attribute);
  } else {
    if (subject.nameIdFormat === TRANSIENT_NAME_ID) {
      throw new SamlResponseError(
        'the IdP sends a transient NameID (urn:oasis:names:tc:SAML:2.0:nameid-format:transient), a new value at every sign-in, so every sign-in would create a new user. ' +
          'Set the NameID format at the IdP to persistent or emailAddress (Entra ID: Unique User Identifier; Okta: Name ID format; ADFS: a NameID claim rule; Shibboleth: the persistent NameID), ' +
          'or take the unique id from an attribute (lanyard identity set <ConnectionSid> --attribute <name>)',
      );
    }
    id = subject.nameId;
  }
  const refusal = id === undefined ? null : uniqueIdRefusal(id, policy);
  if (refusal) throw refusal;
  return id !== undefined && foldsCase(id, policy) ? id.toLowerCase() : id;
}

/**
 * The longest unique id, in UTF-8 bytes as `uniqueIdBytes` counts them: what a user record's
 * lookup (`<AccountSid>:<unique id>`) keeps within MAX_KEY_BYTES in every backend. Far past what
 * the protocols allow (SAML core §8.3.7: a persistent NameID of 256 characters; OpenID Connect
 * Core §2: a `sub` of 255 ASCII characters), and near what PostgreSQL's index took before.
 */
export const MAX_UNIQUE_ID_BYTES = 2000;

/**
 * The refusal (45050) of a unique id no backend can key a user by (`uniqueIdProblem`), in the
 * words of where `policy` takes it from; null when it can.
 */
export function uniqueIdRefusal(uniqueId: string, policy: UniqueIdPolicy = DEFAULT_UNIQUE_ID_POLICY): UnusableIdpValueError | null {
  const problem = uniqueIdProblem(uniqueId);
  if (!problem) return null;
  return new UnusableIdpValueError(
    policy.attribute ? `unique id (attribute or claim "${policy.attribute.slice(0, 100)}")` : 'unique id (SAML NameID or OpenID Connect sub)',
    problem,
    policy.attribute
      ? 'Send a value without it at the IdP, or take the unique id from another attribute (lanyard identity set <ConnectionSid> --attribute <name>).'
      : 'At the IdP, send a persistent or emailAddress NameID (SAML) or a sub of at most 255 ASCII characters (OpenID Connect Core §2), or take the unique id from an attribute or claim (lanyard identity set <ConnectionSid> --attribute <name>).',
  );
}

/** The UTF-8 length of `uniqueId` in bytes, as sent or folded to lower case, whichever is stored longer (`K`, the Kelvin sign, folds to one byte from three). */
export function uniqueIdBytes(uniqueId: string): number {
  return Math.max(Buffer.byteLength(uniqueId, 'utf8'), Buffer.byteLength(uniqueId.toLowerCase(), 'utf8'));
}

/** Why `uniqueId` cannot key a user (a NUL, an unpaired surrogate, past MAX_UNIQUE_ID_BYTES); undefined when it can. */
export function uniqueIdProblem(uniqueId: string): string | undefined {
  const problem = unstorableText(uniqueId);
  if (problem) return problem;
  const bytes = uniqueIdBytes(uniqueId);
  return bytes > MAX_UNIQUE_ID_BYTES
    ? `is ${bytes.toLocaleString('en-US')} bytes long in UTF-8 (at most ${MAX_UNIQUE_ID_BYTES.toLocaleString('en-US')})`
    : undefined;
}
