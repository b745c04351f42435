import type { LanyardError } from './errors.ts';
import type { SignOutReason } from './refresh-coordinator.ts';
import type { Session } from './session-store.ts';

/** A warning, also written to the console: `config` and `no_referrer_policy` are for the desktop's owner to fix, `popup_opener_cut` is news for the agent. */
export interface LanyardWarning {
  /** `popup_opener_cut`: the sign-in pop-up lost its opener (Cross-Origin-Opener-Policy), or was closed at once; its result may still come over a same-origin channel. */
  code: 'config' | 'no_referrer_policy' | 'popup_opener_cut';
  message: string;
  field?: string;
}

/** The events of a `LanyardClient`; subscribe with `client.on(name, listener)`. */
export interface LanyardEvents {
  /** A new access token: after sign-in, a refresh, or one adopted from another tab. */
  tokenUpdated: (session: Session, detail: { source: 'signIn' | 'refresh' | 'otherTab' }) => void;
  /** The shift ends soon (N minutes before `sessionExpiresAt`), or the server refused to extend it. */
  sessionExpiring: (detail: { sessionExpiresAt: number; reason: 'shiftEnding' | 'lifetimeReached' }) => void;
  /** This tab is signed out: by the agent (`user`), in another tab, at the end of the shift (`expired`) or by the server (`revoked`). */
  signedOut: (detail: { reason: SignOutReason }) => void;
  /** Background failures (refresh, network). Failures of a call you await reject that call instead. */
  error: (error: LanyardError) => void;
  /** A setup problem for the desktop's owner, or news for the agent (see `LanyardWarning.code`); also written to the console. */
  warning: (warning: LanyardWarning) => void;
}

/** A tiny typed event emitter: `on` returns its own unsubscribe. */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        // One failing listener must not stop the others, nor the SDK's own work.
        console.error('Lanyard: an event listener threw', error);
      }
    }
  }

  count(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
