import type { Clock } from './clock.ts';
import { randomString } from './pkce.ts';

/**
 * The pop-up's result over a same-origin channel, for when `window.opener` is gone. A page that
 * sends `Cross-Origin-Opener-Policy` (the IdP's, or the desktop's own) puts the pop-up in another
 * browsing context group: the opener's handle then reads `closed`, and the callback page has no
 * `window.opener` nor window name. The opener leaves a marker in `localStorage` (which sign-ins
 * are waiting, by `state`; never a secret: the PKCE verifiers stay in the opener's memory), and
 * the callback page that finds a matching marker posts its result on a `BroadcastChannel` of this
 * origin instead (or, without BroadcastChannel, through a `storage` event).
 */

const MARKER_TTL_MS = 15 * 60_000;

interface Marker {
  id: string;
  mode: 'enhanced' | 'legacy';
  /** Enhanced SSO: the `state` of each sign-in this tab waits for (pressing "Sign in" again adds one). */
  states: string[];
  expiresAt: number;
}

interface Envelope {
  id: string;
  message: unknown;
}

const markerKey = (accountSid: string) => `lanyard:${accountSid}:popup`;
const resultKey = (accountSid: string) => `lanyard:${accountSid}:popup-result`;
const channelName = (accountSid: string) => `lanyard-popup-${accountSid}`;

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/** The opener's side: announces the sign-ins it waits for and receives their results. */
export interface PopupHandover {
  /** Writes (or rewrites) the marker: the mode and the `state` of every sign-in waiting. */
  announce(waiting: { mode: 'enhanced' | 'legacy'; states: string[] }): void;
  /** Calls `receive` with each message posted for this tab; returns the function that stops. */
  listen(receive: (message: unknown) => void): () => void;
  /** Removes the marker (the sign-ins finished or were given up). */
  end(): void;
}

export function openHandover(accountSid: string, clock: Clock): PopupHandover {
  const store = storage();
  const id = randomString(16);
  return {
    announce({ mode, states }) {
      const marker: Marker = { id, mode, states, expiresAt: clock.now() + MARKER_TTL_MS };
      store?.setItem(markerKey(accountSid), JSON.stringify(marker));
    },
    listen(receive) {
      const accept = (data: unknown) => {
        const envelope = data as Envelope | null;
        if (envelope && typeof envelope === 'object' && envelope.id === id) receive(envelope.message);
      };
      if (typeof BroadcastChannel !== 'undefined') {
        const channel = new BroadcastChannel(channelName(accountSid));
        channel.onmessage = (event: MessageEvent) => accept(event.data);
        return () => channel.close();
      }
      const onStorage = (event: StorageEvent) => {
        if (event.key !== resultKey(accountSid) || !event.newValue) return;
        store?.removeItem(resultKey(accountSid));
        accept(parse(event.newValue));
      };
      window.addEventListener('storage', onStorage);
      return () => window.removeEventListener('storage', onStorage);
    },
    end() {
      if (parse<Marker>(store?.getItem(markerKey(accountSid)))?.id === id) store?.removeItem(markerKey(accountSid));
    },
  };
}

/**
 * The callback page's side: when a pop-up sign-in of this account waits for this result (same
 * mode, and for enhanced SSO one of the `state`s waited for), returns the function that hands it
 * over.
 */
export function handoverFor(
  accountSid: string,
  result: { mode: 'enhanced' | 'legacy'; state?: string },
  now: number,
): ((message: unknown) => void) | null {
  const store = storage();
  const marker = parse<Marker>(store?.getItem(markerKey(accountSid)));
  if (!marker || marker.expiresAt <= now || marker.mode !== result.mode) return null;
  if (result.mode === 'enhanced' && (!result.state || !Array.isArray(marker.states) || !marker.states.includes(result.state))) return null;
  return (message) => {
    const envelope: Envelope = { id: marker.id, message };
    if (typeof BroadcastChannel !== 'undefined') {
      const channel = new BroadcastChannel(channelName(accountSid));
      channel.postMessage(envelope);
      channel.close();
    } else {
      store?.setItem(resultKey(accountSid), JSON.stringify(envelope));
    }
  };
}

function parse<T>(text: string | null | undefined): T | null {
  try {
    return text ? (JSON.parse(text) as T) : null;
  } catch {
    return null;
  }
}
