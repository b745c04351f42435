import { hasIdentityProvider, type Account, type Connection } from './model.ts';

/** One entry of the public lookup (`GET /v1/Flex/Authentication/Config`, SPEC "Lookup"). */
export interface AuthConfigEntry {
  account_sid: string;
  instance_sid: string;
  connection_name: string;
  client_id: string;
  active: boolean;
  app_type: 'SinglePageApp';
}

const LOOKUP_CACHE_MS = 5_000;
const LOOKUP_CACHE_ENTRIES = 10_000;

/**
 * The public lookup's entries for an account. Unknown accounts and accounts without enhanced SSO
 * both get an empty list: the endpoint is unauthenticated, so it must not reveal which account
 * SIDs exist. Only connections with IdP settings are listed.
 */
export function lookupEntries(account: Account | undefined, connections: Connection[]): AuthConfigEntry[] {
  if (!account || account.ssoMode === 'legacy') return [];
  return connections.filter(hasIdentityProvider).map((c) => ({
    account_sid: account.sid,
    instance_sid: account.instanceSid,
    connection_name: c.sid,
    client_id: c.clientId,
    active: true,
    app_type: 'SinglePageApp' as const,
  }));
}

/**
 * The public lookup's answers, kept LOOKUP_CACHE_MS (5 s) per account in this process: desktops
 * call it on every page load and its HTTP answer is cacheable for 60 s anyway. Writes through the
 * account service clear it at once; another node's write shows here within LOOKUP_CACHE_MS.
 * Unknown SIDs are remembered too (a flood of them costs no reads), within 10 000 entries.
 */
export class LookupCache {
  private readonly entries = new Map<string, { entries: AuthConfigEntry[]; until: number }>();

  async get(accountSid: string, read: () => Promise<AuthConfigEntry[]>): Promise<AuthConfigEntry[]> {
    const now = Date.now();
    const cached = this.peek(accountSid, now);
    if (cached) return cached;
    const entries = await read();
    if (this.entries.size >= LOOKUP_CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(accountSid, { entries, until: now + LOOKUP_CACHE_MS });
    return entries;
  }

  /** The answer kept for `accountSid` if it is still fresh, without reading anything. */
  peek(accountSid: string, now = Date.now()): AuthConfigEntry[] | undefined {
    const cached = this.entries.get(accountSid);
    return cached && cached.until > now ? cached.entries : undefined;
  }

  clear(): void {
    this.entries.clear();
  }
}
