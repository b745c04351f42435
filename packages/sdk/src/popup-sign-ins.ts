import type { Clock } from './clock.ts';
import { PopupClosedError } from './errors.ts';
import { openPopup, waitForPopupResult } from './popup.ts';
import { openHandover, type PopupHandover } from './popup-handover.ts';
import type { PendingLogin, Session } from './session-store.ts';

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

/** What a pop-up sign-in does at each step; `R` is the mode's result (SignInStrategy). */
export interface PopupSignInSteps<R> {
  mode: 'enhanced' | 'legacy';
  /** SignInStrategy.begin: remembers what the result must match, resolves to the sign-in URL. */
  begin(remember: (pending: PendingLogin) => void): Promise<string>;
  /** This mode's result in a message from the pop-up, or `undefined`. */
  accept(data: unknown): R | undefined;
  /** The `state` a result carries (enhanced SSO), or `undefined` (legacy). */
  stateOf(result: R): string | undefined;
  /** Checks the result against `pending` and signs in (SignInStrategy.complete, then publish). */
  complete(result: R, pending: PendingLogin | null): Promise<Session>;
  /** Called when the window's handle reads `closed` but its result may still come (popup.ts). */
  onOpenerCut(): void;
}

/** Why a sign-in stopped waiting: a later one took over, and its outcome is this one's. */
class Superseded {
  constructor(readonly next: Promise<Session>) {}
}

interface Attempt {
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
  /** Members not settled yet, in the order they started. */
  live: Set<Attempt>;
  /** What every member started with, to match a result's `state`. */
  pendings: PendingLogin[];
  /** The outcome of the first result (it may have settled already): every member's. */
  answer: Promise<Session> | null;
  handover: PopupHandover | null;
}

export class PopupSignIns<R> {
  private group: Group | null = null;
  /** Every sign-in not settled yet, of any group (the browser may hand two groups one window). */
  private readonly live = new Set<Attempt>();

  constructor(
    private readonly accountSid: string,
    private readonly clock: Clock,
    private readonly steps: PopupSignInSteps<R>,
  ) {}

  /**
   * Opens the pop-up (call it inside the click, synchronously: after an `await` the browser
   * blocks it) and resolves to the session, or rejects as `LanyardClient.signIn` says.
   */
  start(features: string | undefined): Promise<Session> {
    const popup = openPopup(features);
    if (!this.group || this.group.answer) this.group = { live: new Set(), pendings: [], answer: null, handover: null };
    const group = this.group;
    const attempt: Attempt = { group, popup, controller: new AbortController(), pending: null, answered: false, outcome: null! };
    group.live.add(attempt);
    this.live.add(attempt);
    attempt.outcome = this.run(attempt);
    const settled = () => {
      this.live.delete(attempt);
      group.live.delete(attempt);
      if (group.live.size > 0) return;
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
      const url = await this.steps.begin((pending) => {
        attempt.pending = pending;
        group.pendings.push(pending);
      });
      signal.throwIfAborted();
      // A result reached an earlier sign-in while this one started: that one finishes for both.
      if (group.answer) return await group.answer;
      // The agent closed the window meanwhile (its own blank one, or the one an earlier sign-in
      // showed): this one ends; an earlier one in another window goes on waiting.
      if (popup.closed) throw new PopupClosedError('closed');
      const earlier = [...group.live].slice(0, [...group.live].indexOf(attempt));
      for (const other of earlier) other.controller.abort(new Superseded(attempt.outcome));
      const handover = (group.handover ??= openHandover(this.accountSid, this.clock));
      handover.announce({ mode: this.steps.mode, states: group.pendings.map((p) => p.state).filter((s) => s !== '') });
      popup.location.replace(url);
      const result = await waitForPopupResult(popup, {
        accept: this.steps.accept,
        handover,
        clock: this.clock,
        signal,
        onOpenerCut: this.steps.onOpenerCut,
      });
      attempt.answered = true;
      const state = this.steps.stateOf(result);
      const pending = (state !== undefined && group.pendings.find((p) => p.state === state)) || attempt.pending;
      group.answer = this.steps.complete(result, pending);
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
