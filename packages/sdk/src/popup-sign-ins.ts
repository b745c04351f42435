import type { Clock } from './clock.ts';
import { PopupClosedError } from './errors.ts';
import { openPopup, waitForPopupResult } from './popup.ts';
import { openHandover, type PopupHandover } from './popup-handover.ts';
import type { PendingLogin, Session, StoredSession } from './session-store.ts';
import type { SignInStrategy } from './sign-in-strategy.ts';

/**
 * The pop-up sign-ins of one tab. An agent may press "Sign in" again while one still waits (its
 * window closed, cut off by Cross-Origin-Opener-Policy, or still open at the IdP). The new one
 * takes over once it can send a window on (not before: a result on its way to the earlier one is
 * not lost, and a new one that fails to start leaves the earlier one waiting); from then on a
 * result for any of them finishes the sign-in, with the PKCE verifier of the one whose `state` it
 * carries (RFC 6749 §10.12: a `state` this tab never issued is still refused), and every caller
 * gets that one outcome. A window still linked to this page is reused by the browser (same name)
 * and never closed under the sign-in that uses it.
 */

/** What the client does with a pop-up sign-in's outcome and news. */
export interface PopupSignInHooks {
  /** Publishes the session a sign-in completed with; returns it as callers get it. */
  signedIn(session: StoredSession): Session;
  /** Called when the window's handle reads `closed` but its result may still come (popup.ts). */
  onOpenerCut(): void;
}

/** Why a sign-in stopped waiting: a later one took over, and its outcome is this one's. */
class Superseded {
  constructor(readonly next: Promise<Session>) {}
}

interface Attempt {
  /** The group it joined; its fellow members are the live attempts with the same group. */
  group: Group;
  popup: Window;
  controller: AbortController;
  pending: PendingLogin | null;
  /** Its result came: it is finishing, and no later sign-in takes it over. */
  answered: boolean;
  outcome: Promise<Session>;
}

/**
 * Sign-ins started while another one waited. A group takes no new member once a result came
 * (`answer`): a later "Sign in" starts afresh, never with an earlier group's outcome.
 */
interface Group {
  /** What every member started with, to match a result's `state`. */
  pendings: PendingLogin[];
  /** The outcome of the first result (it may have settled already): every member's. */
  answer: Promise<Session> | null;
  handover: PopupHandover | null;
}

export class PopupSignIns<R> {
  private group: Group | null = null;
  /**
   * Every sign-in not settled yet, of any group (the browser may hand two groups one window), in
   * the order they started.
   */
  private readonly live = new Set<Attempt>();

  constructor(
    private readonly accountSid: string,
    private readonly clock: Clock,
    private readonly strategy: SignInStrategy<R>,
    private readonly hooks: PopupSignInHooks,
  ) {}

  /** The live members of `group`, in the order they started. */
  private membersOf(group: Group): Attempt[] {
    return [...this.live].filter((attempt) => attempt.group === group);
  }

  /**
   * Opens the pop-up (call it inside the click, synchronously: after an `await` the browser
   * blocks it) and resolves to the session, or rejects as `LanyardClient.signIn` says.
   */
  start(features: string | undefined): Promise<Session> {
    const popup = openPopup(features);
    if (!this.group || this.group.answer) this.group = { pendings: [], answer: null, handover: null };
    const group = this.group;
    const attempt: Attempt = { group, popup, controller: new AbortController(), pending: null, answered: false, outcome: null! };
    this.live.add(attempt);
    attempt.outcome = this.run(attempt);
    const settled = () => {
      this.live.delete(attempt);
      if (this.membersOf(group).length > 0) return;
      group.handover?.end();
      if (this.group === group) this.group = null;
    };
    attempt.outcome.then(settled, settled);
    return attempt.outcome;
  }

  private async run(attempt: Attempt): Promise<Session> {
    const { group, popup } = attempt;
    const { signal } = attempt.controller;
    try {
      const url = await this.strategy.begin((pending) => {
        attempt.pending = pending;
        group.pendings.push(pending);
      });
      signal.throwIfAborted();
      // A result reached an earlier sign-in while this one started: that one finishes for both.
      if (group.answer) return await group.answer;
      // The agent closed the window meanwhile (its own blank one, or the one an earlier sign-in
      // showed): this one ends; an earlier one in another window goes on waiting.
      if (popup.closed) throw new PopupClosedError('closed');
      const members = this.membersOf(group);
      for (const other of members.slice(0, members.indexOf(attempt))) other.controller.abort(new Superseded(attempt.outcome));
      const handover = (group.handover ??= openHandover(this.accountSid, this.clock));
      handover.announce({ mode: this.strategy.mode, states: group.pendings.map((p) => p.state).filter((s) => s !== '') });
      popup.location.replace(url);
      const result = await waitForPopupResult(popup, {
        accept: (data) => this.strategy.readPopupMessage(data),
        handover,
        clock: this.clock,
        signal,
        onOpenerCut: this.hooks.onOpenerCut,
      });
      attempt.answered = true;
      const state = this.strategy.stateOf(result);
      const pending = (state !== undefined && group.pendings.find((p) => p.state === state)) || attempt.pending;
      group.answer = this.strategy.complete(result, pending).then(this.hooks.signedIn);
      return await group.answer;
    } catch (error) {
      if (signal.reason instanceof Superseded) return signal.reason.next;
      throw error;
    } finally {
      // Close the window unless a later sign-in took it over, or another still waits in it.
      const waitingIn = [...this.live].some(
        (other) => other !== attempt && other.popup === popup && !other.answered && !other.controller.signal.aborted,
      );
      if (!signal.aborted && !waitingIn && !popup.closed) popup.close();
    }
  }
}
