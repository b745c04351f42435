import { systemClock, type Clock } from './clock.ts';
import { randomString } from './pkce.ts';

/**
 * What tabs of one desktop use to agree: an exclusive lock (`navigator.locks`, or a lease in
 * `localStorage` where that is missing) and a broadcast channel. Each has an in-memory twin for
 * tests and for the memory session store.
 */

/**
 * The part of `navigator.locks` used here: an exclusive lock held while `callback` runs, and
 * optionally notes that every tab sees at once.
 *
 * Notes exist because `localStorage` is not consistent across processes: Chromium gives each
 * renderer its own copy and sends a write to the others later, so a tab that takes the lock just
 * after another tab refreshed can still read the spent session. The lock manager lives in the
 * browser process, so a note held there (a held Web Lock, listed by `navigator.locks.query()`) is
 * seen by the next lock holder without delay.
 */
export interface LockLike {
  /** Runs `callback` while holding the exclusive lock `name`, and resolves to its result. */
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
  /** Leaves a note named `name` for `holdMs` milliseconds; resolves once other tabs can see it. */
  leaveNote?(name: string, holdMs: number): Promise<void>;
  /** Whether a note named `name` is there now. */
  hasNote?(name: string): Promise<boolean>;
}

/** The part of `BroadcastChannel` used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** `navigator.locks` where available; otherwise a lease in `localStorage`; otherwise in-memory. */
export function defaultLock(clock: Clock): LockLike {
  const locks = typeof navigator === 'undefined' ? undefined : (navigator as Partial<Navigator>).locks;
  // The Web Locks API resolves with what the callback's promise resolves to.
  if (locks?.request) return createWebLock(locks, clock);
  if (typeof localStorage !== 'undefined') return createLeaseLock(localStorage, clock);
  return createMemoryLock();
}

export function defaultChannel(accountSid: string): ChannelLike | null {
  return typeof BroadcastChannel === 'undefined' ? null : (new BroadcastChannel(`lanyard-${accountSid}`) as unknown as ChannelLike);
}

/** The Web Locks API; a note is a lock held for a while. */
function createWebLock(locks: LockManager, clock: Clock): LockLike {
  return {
    // The Web Locks API resolves with what the callback's promise resolves to.
    request: <T>(name: string, callback: () => Promise<T>) => locks.request(name, callback) as unknown as Promise<T>,
    leaveNote: (name, holdMs) =>
      new Promise<void>((held) => {
        void locks
          .request(name, { ifAvailable: true }, () => {
            held();
            return new Promise<void>((release) => clock.setTimeout(release, holdMs));
          })
          .catch(() => held());
      }),
    async hasNote(name) {
      try {
        return ((await locks.query()).held ?? []).some((lock) => lock.name === name);
      } catch {
        return false;
      }
    },
  };
}

/** An exclusive lock within one JavaScript realm, with notes (for tests and the memory store). */
export function createMemoryLock(clock: Clock = systemClock): LockLike {
  const tails = new Map<string, Promise<unknown>>();
  const notes = new Map<string, number>();
  return {
    leaveNote(name, holdMs) {
      notes.set(name, clock.now() + holdMs);
      return Promise.resolve();
    },
    hasNote: (name) => Promise.resolve((notes.get(name) ?? -Infinity) > clock.now()),
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}

/**
 * A lock across tabs without `navigator.locks`: a lease in shared storage, claimed by writing it
 * and confirmed by reading it back after a pause (storage has no compare-and-swap). A lease whose
 * holder died runs out after `leaseMs`.
 */
export function createLeaseLock(storage: Storage, clock: Clock = systemClock, leaseMs = 15_000): LockLike {
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
  const read = (key: string): { owner: string; until: number } | null => {
    try {
      return JSON.parse(storage.getItem(key) ?? 'null') as { owner: string; until: number } | null;
    } catch {
      return null;
    }
  };
  return {
    async request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const key = `${name}:lease`;
      const me = randomString(12);
      for (;;) {
        const lease = read(key);
        if (!lease || lease.until <= clock.now()) {
          storage.setItem(key, JSON.stringify({ owner: me, until: clock.now() + leaseMs }));
          await sleep(50);
          if (read(key)?.owner === me) break;
        } else {
          await sleep(100 + Math.floor(Math.random() * 100));
        }
      }
      try {
        return await callback();
      } finally {
        if (read(key)?.owner === me) storage.removeItem(key);
      }
    },
  };
}

/** A `BroadcastChannel` stand-in within one realm: every channel of a hub hears the others. */
export function createMemoryChannelHub(): () => ChannelLike {
  const members = new Set<(data: unknown) => void>();
  return () => {
    const listeners: Array<(event: { data: unknown }) => void> = [];
    const deliver = (data: unknown) => queueMicrotask(() => listeners.forEach((l) => l({ data })));
    members.add(deliver);
    return {
      postMessage: (data) => members.forEach((member) => member !== deliver && member(data)),
      addEventListener: (_type, listener) => listeners.push(listener),
      close: () => members.delete(deliver),
    };
  };
}
