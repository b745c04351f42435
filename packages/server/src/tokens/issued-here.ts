import type { RefreshTokenRecord, Session } from './model.ts';

/** A refresh token this node stored: its record's payload and its session as they were then. */
export interface IssuedRefreshToken {
  session: Session;
  token: RefreshTokenRecord;
}

/** How many refresh tokens a node remembers by default (about 0.9 KB each, 18 MB in all, up to 35 MB with long scopes and nonces; IssuedHere). */
export const ISSUED_HERE_CAPACITY = 20_000;

/**
 * The refresh tokens this node stored and has not seen presented, by record id (the token's
 * SHA-256), so that a refresh grant presenting one knows its session before reading anything
 * (TokenService.rotateIssuedHere). Nothing here can go stale: a token's payload never changes
 * once stored, nor does a session but for its revocation, which the spend itself checks
 * (Storage.consumeAndInsertIf), as it checks the user. A token missing here (issued by another
 * node, before a restart, or forgotten) is read from storage as before.
 *
 * Bounded: past `capacity` the token remembered longest ago is forgotten first. Each token is
 * forgotten when presented, whatever comes of it.
 */
export class IssuedHere {
  private readonly tokens = new Map<string, IssuedRefreshToken>();

  constructor(private readonly capacity = ISSUED_HERE_CAPACITY) {}

  remember(tokenId: string, issued: IssuedRefreshToken): void {
    if (this.capacity === 0) return;
    this.tokens.set(tokenId, issued);
    // A Map iterates in insertion order: its first key is the oldest.
    if (this.tokens.size > this.capacity) this.tokens.delete(this.tokens.keys().next().value!);
  }

  /** The token, forgotten as it is returned; undefined when not remembered or no longer usable at `now` (ms). */
  take(tokenId: string, now: number): IssuedRefreshToken | undefined {
    const issued = this.tokens.get(tokenId);
    if (!issued) return undefined;
    this.tokens.delete(tokenId);
    return now < issued.token.usableUntil ? issued : undefined;
  }

  get size(): number {
    return this.tokens.size;
  }
}
