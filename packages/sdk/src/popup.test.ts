import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from './clock.ts';
import { PopupClosedError } from './errors.ts';
import { waitForPopupResult } from './popup.ts';
import type { PopupHandover } from './popup-handover.ts';

/**
 * How the opener tells a pop-up closed by the agent from one a Cross-Origin-Opener-Policy cut off,
 * on scripted pop-up handles and a manual clock (the real-browser runs are in
 * test/browser/popup-coop.test.ts and enhanced-sso.test.ts).
 */

/** A clock whose timers run when the test advances it. */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  let nextId = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout: (callback, ms) => {
      timers.set(nextId, { at: now + ms, callback });
      return nextId++;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
  };
  /** Runs the timers due within `ms`, in order; `stall` adds to each step (a loaded page). */
  const advance = (ms: number, stall = 0) => {
    const end = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = Math.max(now, due[1].at) + stall;
      due[1].callback();
    }
    now = Math.max(now, end);
  };
  return { clock, advance };
}

type PopupState = 'blank' | 'other-origin' | 'closed';

/** A pop-up handle that reads as the test sets it: readable (same origin), throwing, or closed. */
function scriptedPopup() {
  let state: PopupState = 'blank';
  const popup = {
    get closed() {
      return state === 'closed';
    },
    get location() {
      if (state === 'other-origin') throw new DOMException('Blocked a frame from accessing a cross-origin frame.', 'SecurityError');
      return { href: 'about:blank' };
    },
  } as unknown as Window;
  return { popup, set: (next: PopupState) => (state = next) };
}

function channel() {
  let receive: ((message: unknown) => void) | null = null;
  const handover: PopupHandover = {
    listen: (callback) => {
      receive = callback;
      return () => (receive = null);
    },
    announce: () => undefined,
    end: () => undefined,
  };
  return { handover, post: (message: unknown) => receive?.(message) };
}

describe('waitForPopupResult', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'window');
  beforeEach(() => {
    const target = new EventTarget();
    Object.defineProperty(globalThis, 'window', {
      configurable: true,
      value: Object.assign(target, { location: { origin: 'https://desktop.example.com' } }),
    });
  });
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'window', saved);
    else delete (globalThis as { window?: unknown }).window;
  });

  function start(signal?: AbortSignal) {
    const { clock, advance } = manualClock();
    const { popup, set } = scriptedPopup();
    const { handover, post } = channel();
    const outcome: { value?: unknown; error?: unknown; cut: number } = { cut: 0 };
    void waitForPopupResult(popup, {
      accept: (data) => ((data as { ok?: boolean })?.ok ? data : undefined),
      handover,
      clock,
      signal,
      onOpenerCut: () => outcome.cut++,
    }).then(
      (value) => (outcome.value = value),
      (error: unknown) => (outcome.error = error),
    );
    const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
    return { advance, set, post, outcome, settle };
  }

  it('keeps waiting over the channel when the swap to the COOP page shows another origin for several polls first', async () => {
    // CI saw Chromium show the new page as another origin's for over 100 ms before the handle read
    // closed; the opener took it for an agent who closed the window.
    const { advance, set, post, outcome, settle } = start();
    advance(200);
    set('other-origin');
    advance(400);
    set('closed');
    advance(5_000);
    await settle();
    expect(outcome).toEqual({ cut: 1 });
    post({ ok: true, code: 'c' });
    await settle();
    expect(outcome).toEqual({ cut: 1, value: { ok: true, code: 'c' } });
  });

  it('keeps waiting when a stalled page ran few polls over a long time', async () => {
    const { advance, set, outcome, settle } = start();
    advance(200);
    set('other-origin');
    // Each poll runs 400 ms late: 4 polls span 1.35 s.
    advance(1_400, 400);
    set('closed');
    advance(1_000);
    await settle();
    expect(outcome).toEqual({ cut: 1 });
  });

  it('reports PopupClosedError("closed") when the agent closed a page shown on 5 polls over a second', async () => {
    const { advance, set, outcome, settle } = start();
    advance(200);
    set('other-origin');
    advance(1_100);
    set('closed');
    advance(600);
    await settle();
    expect(outcome.cut).toBe(0);
    expect(outcome.error).toBeInstanceOf(PopupClosedError);
    expect((outcome.error as PopupClosedError).reason).toBe('closed');
  });

  it('takes a message posted just before closing: the grace round still delivers it', async () => {
    const { advance, set, post, outcome, settle } = start();
    advance(200);
    set('other-origin');
    advance(1_100);
    set('closed');
    advance(100);
    post({ ok: true, code: 'late' });
    await settle();
    expect(outcome).toEqual({ cut: 0, value: { ok: true, code: 'late' } });
  });

  it('gives up after the detached timeout with reason "opener_cut"', async () => {
    const { advance, set, outcome, settle } = start();
    advance(100);
    set('closed');
    advance(10 * 60_000 - 1_000);
    await settle();
    expect(outcome.error).toBeUndefined();
    advance(2_000);
    await settle();
    expect(outcome.cut).toBe(1);
    expect(outcome.error).toBeInstanceOf(PopupClosedError);
    expect((outcome.error as PopupClosedError).reason).toBe('opener_cut');
  });

  it('stops at the abort signal: rejects with its reason, and ignores what comes after', async () => {
    const controller = new AbortController();
    const { advance, set, post, outcome, settle } = start(controller.signal);
    advance(200);
    set('other-origin');
    advance(100);
    const reason = new Error('taken over');
    controller.abort(reason);
    await settle();
    expect(outcome.error).toBe(reason);
    post({ ok: true, code: 'late' });
    set('closed');
    advance(10 * 60_000 + 1_000);
    await settle();
    expect(outcome).toEqual({ cut: 0, error: reason });
  });
});
