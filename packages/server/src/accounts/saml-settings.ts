import { InvalidParameterError } from '../errors.ts';
import { normalizeCertificate } from './certificates.ts';
import { assertIdpUrl } from './idp-urls.ts';
import { parseIdpMetadata } from './idp-metadata.ts';
import type { SamlIdpSettings } from './model.ts';

/** What an administrator gives for a SAML IdP: its metadata (XML or URL), or the values by hand. */
export interface SamlSettingsInput {
  issuer?: string;
  ssoUrl?: string;
  certificate?: string;
  certificates?: string[];
  metadataXml?: string;
  metadataUrl?: string;
  /** Federation metadata: the entity ID of the IdP to use. */
  entityId?: string;
  /** Hand-set SSO URL: its binding (default redirect). Metadata imports read it from the metadata. */
  ssoBinding?: 'redirect' | 'post';
  /** Sign AuthnRequests; absent: as the IdP's metadata asks (WantAuthnRequestsSigned). */
  signAuthnRequests?: boolean;
  allowRsa15KeyTransport?: boolean;
  clockSkewSeconds?: number;
}

/** Fetches IdP metadata from a URL (accounts/metadata-fetch.ts in production). */
export type MetadataFetcher = (url: string) => Promise<string>;

/**
 * The connection's SAML IdP settings from the administrator's input: metadata imported (fetched
 * when given by URL) or hand-set values checked.
 *
 * @throws InvalidParameterError for a missing value, a skew outside 0–600 s, or a non-https IdP URL.
 */
export async function resolveSamlSettings(input: SamlSettingsInput, fetchMetadata: MetadataFetcher): Promise<SamlIdpSettings> {
  const skew = input.clockSkewSeconds ?? 120;
  if (!Number.isInteger(skew) || skew < 0 || skew > 600) throw new InvalidParameterError('clockSkewSeconds must be a whole number from 0 to 600.');
  if (input.metadataXml || input.metadataUrl) {
    if (input.metadataUrl !== undefined) assertIdpUrl(input.metadataUrl, 'metadataUrl');
    const xml = input.metadataXml ?? (await fetchMetadata(input.metadataUrl!));
    const meta = await parseIdpMetadata(xml, { entityId: input.entityId });
    assertIdpUrl(meta.ssoUrl, 'the SSO URL in the IdP metadata');
    return {
      ...meta,
      metadataUrl: input.metadataUrl ?? null,
      metadataEntityId: input.entityId ?? null,
      clockSkewSeconds: skew,
      ...(input.signAuthnRequests !== undefined ? { signAuthnRequests: input.signAuthnRequests } : {}),
      ...(input.allowRsa15KeyTransport ? { allowRsa15KeyTransport: true } : {}),
    };
  }
  const certificates = [...(input.certificates ?? []), ...(input.certificate ? [input.certificate] : [])];
  if (!input.issuer) throw new InvalidParameterError('issuer (the IdP entity ID) is required, or import metadata instead.');
  if (!input.ssoUrl) throw new InvalidParameterError('ssoUrl (the IdP single sign-on URL) is required, or import metadata instead.');
  assertIdpUrl(input.ssoUrl, 'ssoUrl');
  if (certificates.length === 0)
    throw new InvalidParameterError('certificate (the IdP signing certificate, PEM) is required, or import metadata instead.');
  return {
    issuer: input.issuer,
    ssoUrl: input.ssoUrl,
    certificates: certificates.map(normalizeCertificate),
    ssoBinding: input.ssoBinding ?? 'redirect',
    metadataUrl: null,
    clockSkewSeconds: skew,
    ...(input.signAuthnRequests !== undefined ? { signAuthnRequests: input.signAuthnRequests } : {}),
    ...(input.allowRsa15KeyTransport ? { allowRsa15KeyTransport: true } : {}),
  };
}
