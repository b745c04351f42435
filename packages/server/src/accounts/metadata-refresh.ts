import { assertIdpUrl } from './idp-urls.ts';
import { parseIdpMetadata, type ImportedIdpMetadata } from './idp-metadata.ts';
import type { Connection } from './model.ts';
import type { MetadataFetcher } from './saml-settings.ts';

/** One connection's outcome of a metadata refresh; `error` is the cause when the last good settings were kept. */
export interface MetadataRefreshResult {
  connectionSid: string;
  changed: boolean;
  error: string | null;
}

/**
 * Re-reads IdP metadata for every connection imported from a metadata URL, so certificate
 * rollovers published by the IdP are picked up; `save` stores the metadata of a connection
 * (as read before the fetch) whose settings it changes, and says whether it did (false: the
 * connection no longer imports from that URL; reported as not changed). Failures keep the last
 * good settings and are reported, never thrown.
 */
export async function refreshIdpMetadata(
  connections: Connection[],
  fetchMetadata: MetadataFetcher,
  save: (connection: Connection, metadata: ImportedIdpMetadata) => Promise<boolean>,
): Promise<MetadataRefreshResult[]> {
  const results: MetadataRefreshResult[] = [];
  for (const connection of connections) {
    const saml = connection.saml;
    if (!saml?.metadataUrl) continue;
    try {
      // Saved before https was required: refused until an administrator sets an https URL.
      assertIdpUrl(saml.metadataUrl, 'metadataUrl');
      const meta = await parseIdpMetadata(await fetchMetadata(saml.metadataUrl), { entityId: saml.metadataEntityId });
      assertIdpUrl(meta.ssoUrl, 'the SSO URL in the IdP metadata');
      const changed =
        meta.issuer !== saml.issuer ||
        meta.ssoUrl !== saml.ssoUrl ||
        meta.ssoBinding !== (saml.ssoBinding ?? 'redirect') ||
        meta.wantAuthnRequestsSigned !== (saml.wantAuthnRequestsSigned ?? false) ||
        meta.certificates.join() !== saml.certificates.join();
      results.push({ connectionSid: connection.sid, changed: changed && (await save(connection, meta)), error: null });
    } catch (error) {
      results.push({ connectionSid: connection.sid, changed: false, error: (error as Error).message });
    }
  }
  return results;
}
