import type { Account, Connection } from './model.ts';
import { parseTrustedUrl } from './trusted-urls.ts';

const TRUSTED_ORIGINS_MS = 10_000;

/**
 * The origins allowed to call Lanyard cross-origin (CORS): those of every account's Trusted URLs,
 * and of the redirect URIs registered on connections (standard OIDC clients call from there).
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
        for (const uri of connection.redirectUris) origins.add(new URL(uri).origin);
      }
      this.cache = { origins, at: Date.now() };
    }
    return this.cache.origins.has(origin);
  }

  clear(): void {
    this.cache = undefined;
  }
}
