import { MissingAttributeError, SamlResponseError } from '../errors.ts';
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
  return id !== undefined && foldsCase(id, policy) ? id.toLowerCase() : id;
}
