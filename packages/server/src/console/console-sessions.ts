import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AdminKey, AdminKeys } from '../admin/admin-keys.ts';
import { randomToken, safeEqual, sha256 } from '../crypto/random.ts';
import { AuthenticationError, ForbiddenError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';

const KIND = 'console_session';
export const CONSOLE_COOKIE = 'lanyard_console';
export const CSRF_HEADER = 'X-CSRF-Token';
/** A working day; after it the administrator signs in again with the key. */
export const CONSOLE_SESSION_TTL_MS = 8 * 3600_000;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

interface StoredSession {
  adminKeySid: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface ConsoleSession {
  adminKey: AdminKey;
  /** Sent back by the console in X-CSRF-Token on every API call (double submit bound to the session). */
  csrfToken: string;
  expiresAt: number;
}

/**
 * Console sign-in: an admin API key is exchanged once for an opaque session id in an HttpOnly
 * cookie, so the key itself never sits in the browser. Only the SHA-256 of the id is stored
 * (a database leak does not leak live sessions), and a session ends with its key's revocation.
 */
export class ConsoleSessions {
  constructor(
    private readonly storage: Storage,
    private readonly adminKeys: AdminKeys,
  ) {}

  async create(adminKeySecret: string, now = Date.now()): Promise<{ sessionId: string; session: ConsoleSession }> {
    const adminKey = await this.adminKeys.verify(adminKeySecret, now);
    if (!adminKey) throw new AuthenticationError('This admin API key is not valid: it is malformed, unknown or revoked.');
    const sessionId = randomToken();
    const stored: StoredSession = { adminKeySid: adminKey.sid, csrfToken: randomToken(), createdAt: now, expiresAt: now + CONSOLE_SESSION_TTL_MS };
    await this.storage.insert({ kind: KIND, id: sha256(sessionId), payload: stored, createdAt: now, expiresAt: stored.expiresAt });
    return { sessionId, session: { adminKey, csrfToken: stored.csrfToken, expiresAt: stored.expiresAt } };
  }

  /** The live session behind a cookie value; undefined when unknown, expired or its key was revoked. */
  async find(sessionId: string): Promise<ConsoleSession | undefined> {
    if (!SESSION_ID.test(sessionId)) return undefined;
    const record = await this.storage.find<StoredSession>(KIND, sha256(sessionId));
    if (!record) return undefined;
    const adminKey = await this.adminKeys.find(record.payload.adminKeySid);
    if (!adminKey) {
      await this.storage.destroy(KIND, record.id);
      return undefined;
    }
    return { adminKey, csrfToken: record.payload.csrfToken, expiresAt: record.payload.expiresAt };
  }

  async destroy(sessionId: string): Promise<void> {
    if (SESSION_ID.test(sessionId)) await this.storage.destroy(KIND, sha256(sessionId));
  }
}

/** HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Secure on https. */
export function setSessionCookie(c: Context, sessionId: string, secure: boolean): void {
  setCookie(c, CONSOLE_COOKIE, sessionId, { path: '/', httpOnly: true, secure, sameSite: 'Strict', maxAge: CONSOLE_SESSION_TTL_MS / 1000 });
}

export function clearSessionCookie(c: Context, secure: boolean): void {
  deleteCookie(c, CONSOLE_COOKIE, { path: '/', httpOnly: true, secure, sameSite: 'Strict' });
}

/** The session a request's cookie names, without checking the CSRF token (reading the session itself). */
export async function cookieSession(c: Context, sessions: ConsoleSessions): Promise<{ sessionId: string; session: ConsoleSession } | undefined> {
  const sessionId = getCookie(c, CONSOLE_COOKIE);
  if (sessionId === undefined) return undefined;
  const session = await sessions.find(sessionId);
  if (!session)
    throw new AuthenticationError('The console session has ended (signed out, expired after 8 hours, or its admin key was revoked): sign in again.');
  return { sessionId, session };
}

/**
 * A console API call: the session cookie and, in X-CSRF-Token, that session's CSRF token
 * (compared in constant time). A page on another site can make the browser send the cookie
 * (SameSite aside) but cannot read the token, so it cannot make the call. Undefined when no
 * cookie was sent, so the caller can try other credentials.
 */
export async function authenticateConsoleCall(
  c: Context,
  sessions: ConsoleSessions,
): Promise<{ sessionId: string; session: ConsoleSession } | undefined> {
  const found = await cookieSession(c, sessions);
  if (!found) return undefined;
  const token = c.req.header(CSRF_HEADER);
  if (!token || !safeEqual(token, found.session.csrfToken)) {
    throw new ForbiddenError(
      `Refused: a console request must carry its session's CSRF token in ${CSRF_HEADER} (cross-site request forgery protection).`,
    );
  }
  return found;
}
