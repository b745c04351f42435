import type { Account, Connection } from './model.ts';
import { webOrigin } from './redirect-uris.ts';
import { parseTrustedUrl } from './trusted-urls.ts';

const TRUSTED_ORIGINS_MS = 10_000;

/**
 * The origins allowed to call Lanyard cross-origin (CORS): those of every account's Trusted URLs,
 * and of the https/http redirect URIs registered on connections (standard OIDC clients call from
 * there; private-use schemes have no web origin).
 * Read at most every 10 s in this process; `clear` after a write makes this node see it at once.
 */
export class TrustedOrigins {
  private cache: { origins: Set<string>; at: number } | undefined;

  constructor(private readonly read: () => Promise<{ accounts: Account[]; connections: Connection[] }>) {}

  async has(origin: string): Promise<boolean> {
    if (!this.cache || Date.now() - this.cache.at > TRUSTED_ORIGINS_MS) {
      const { accounts, connections } = await this.read();
      const origins = new Set(accounts.flatMap((a) => a.trustedUrls.map((u) => parseTrustedUrl(u).origin)));
      for (const connection of connections) {
        // Private-use schemes (com.example.app:/cb) have the opaque origin `null`: never a CORS origin.
        for (const uri of connection.redirectUris) {
          const origin = webOrigin(uri);
          if (origin) origins.add(origin);
        }
      }
      this.cache = { origins, at: Date.now() };
    }
    return this.cache.origins.has(origin);
  }

  clear(): void {
    this.cache = undefined;
  }
}
