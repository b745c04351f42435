/**
 * Where a signed-in session lives. The default is `localStorage`, keyed per account, so every tab
 * of the desktop shares one session and one refresh token (one tab refreshes for all); a sign-in
 * in flight (state, nonce, PKCE verifier) stays in the tab's own `sessionStorage`.
 *
 * Anything in `localStorage` is readable by script on the page: the desktop must not run
 * untrusted script (a strict Content-Security-Policy helps). Choose the memory store to keep
 * tokens out of storage altogether, at the price of signing in again in every tab and reload.
 */

/** The signed-in agent, as Lanyard describes them. */
export interface SessionUser {
  identity: string;
  fullName: string | null;
  email: string | null;
  roles: string[];
  flexUserSid: string | null;
  workerSid: string | null;
  /** The IdP's unique id (SAML NameID). */
  nameId: string | null;
  accountSid: string;
  instanceSid: string | null;
}

/**
 * A signed-in session. Times are milliseconds since the epoch on this device's clock, corrected
 * for any difference between this device's clock and the server's.
 */
export interface Session {
  /** The SSO mode that signed the agent in. */
  mode: 'enhanced' | 'legacy';
  /** The Flex token the desktop sends to its back end. */
  accessToken: string;
  /** When the access token stops being accepted. */
  expiresAt: number;
  /** The end of the shift: no refresh reaches past it. `null` until the server has said (legacy). */
  sessionExpiresAt: number | null;
  /** The access token already ends at the session end: refreshing cannot extend it. */
  sessionCapped: boolean;
  /** When this device received the access token. */
  receivedAt: number;
  /** Who signed in. */
  user: SessionUser;
}

/** What is stored: the session plus its refresh token (enhanced SSO only). */
export interface StoredSession extends Session {
  /** The stored shape's version; a store ignores shapes it does not know. */
  version: 1;
  /** Enhanced SSO's refresh token; `null` in legacy SSO (it refreshes with the access token). */
  refreshToken: string | null;
}

/** The session as the application sees it: without the refresh token, and a copy it may keep. */
export function toPublicSession(session: StoredSession): Session {
  const { mode, accessToken, expiresAt, sessionExpiresAt, sessionCapped, receivedAt, user } = session;
  return { mode, accessToken, expiresAt, sessionExpiresAt, sessionCapped, receivedAt, user: { ...user, roles: [...user.roles] } };
}

/** A sign-in this tab started and has not finished (redirect mode). */
export interface PendingLogin {
  /** The `state` the callback must carry (RFC 6749 §10.12); empty in legacy SSO. */
  state: string;
  /** The `nonce` sent with the code exchange; empty in legacy SSO. */
  nonce: string;
  /** The PKCE `code_verifier` (RFC 7636); empty in legacy SSO. */
  verifier: string;
  mode: 'enhanced' | 'legacy';
  /** When the sign-in started (milliseconds since the epoch). */
  startedAt: number;
}

/**
 * Where `LanyardClient` keeps the session and a sign-in in flight (option `storage`). Synchronous;
 * a store shared by tabs must call `subscribe`'s listeners when another tab changes it.
 */
export interface SessionStore {
  /** The stored session, or `null`. */
  read(): StoredSession | null;
  /** Replaces the stored session. */
  write(session: StoredSession): void;
  /** Removes the session, leaving why, so that other tabs can tell the agent the same reason. */
  clear(reason: string): void;
  /** Why the last session ended (`clear`'s reason), while no session is stored. */
  signOutReason(): string | null;
  /** Calls `listener` when another tab (or another client on this store) changes the session. */
  subscribe(listener: () => void): () => void;
  /** The sign-in this tab started and has not finished, or `null`. */
  readPending(): PendingLogin | null;
  /** Keeps a sign-in this tab starts (redirect mode) until its result comes back. */
  writePending(pending: PendingLogin): void;
  /** Forgets the sign-in in flight (its result came back). */
  clearPending(): void;
}

/** The default store: `localStorage` for the session, `sessionStorage` for a sign-in in flight. */
export function createBrowserStore(accountSid: string, local: Storage = window.localStorage, perTab: Storage = window.sessionStorage): SessionStore {
  const key = `lanyard:${accountSid}:session`;
  const pendingKey = `lanyard:${accountSid}:pending`;
  return {
    read: () => parseSession(local.getItem(key)),
    write: (session) => local.setItem(key, JSON.stringify(session)),
    clear: (reason) => local.setItem(key, JSON.stringify({ signedOut: reason })),
    signOutReason: () => parseTombstone(local.getItem(key)),
    subscribe(listener) {
      // `storage` events fire in the other tabs only: exactly the cross-tab signal wanted.
      const onStorage = (event: StorageEvent) => {
        if (event.key === key || event.key === null) listener();
      };
      window.addEventListener('storage', onStorage);
      return () => window.removeEventListener('storage', onStorage);
    },
    readPending: () => parse<PendingLogin>(perTab.getItem(pendingKey), (p) => typeof p.state === 'string' && typeof p.verifier === 'string'),
    writePending: (pending) => perTab.setItem(pendingKey, JSON.stringify(pending)),
    clearPending: () => perTab.removeItem(pendingKey),
  };
}

/**
 * A store in memory. Clients created on the same memory store share it like tabs share
 * `localStorage` (used by tests, and by desktops that keep tokens out of storage).
 */
export function createMemoryStore(): SessionStore {
  let session: string | null = null;
  let pending: PendingLogin | null = null;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of [...listeners]) listener();
  };
  return {
    read: () => parseSession(session),
    write(value) {
      session = JSON.stringify(value);
      changed();
    },
    clear(reason) {
      session = JSON.stringify({ signedOut: reason });
      changed();
    },
    signOutReason: () => parseTombstone(session),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    readPending: () => pending,
    writePending: (value) => {
      pending = value;
    },
    clearPending: () => {
      pending = null;
    },
  };
}

function parseSession(raw: string | null): StoredSession | null {
  return parse<StoredSession>(
    raw,
    (s) => s.version === 1 && typeof s.accessToken === 'string' && typeof s.expiresAt === 'number' && typeof s.user === 'object',
  );
}

function parseTombstone(raw: string | null): string | null {
  return parse<{ signedOut: string }>(raw, (t) => typeof t.signedOut === 'string')?.signedOut ?? null;
}

/** Storage is shared with whatever else runs on the origin: never trust its shape. */
function parse<T>(raw: string | null, valid: (value: Record<string, unknown>) => boolean): T | null {
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && valid(value as Record<string, unknown>) ? (value as T) : null;
  } catch {
    return null;
  }
}
