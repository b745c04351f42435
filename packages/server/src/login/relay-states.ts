import type { Context } from 'hono';
import type { IdpMessage } from '../connections/connection-protocol.ts';

/** Which of the broker's (or the legacy SP's) endpoints received the IdP's answer, and the SID its URL names. */
export interface IdpEndpoint {
  /** `enhanced`: `/login/callback?connection=JQ…` or `/login/oidc/callback`; `legacy`: `/v1/Accounts/AC…/saml2`. */
  serviceProvider: 'enhanced' | 'legacy';
  /**
   * The connection SID (enhanced ACS) or account SID (legacy ACS) the URL names; null at the
   * OpenID Connect callback, whose URL names none (its `state` names the sign-in).
   */
  sid: string | null;
}

/**
 * Answers an IdP's answer whose RelayState (SAML) or `state` (OpenID Connect) another feature
 * started (the console's test sign-in), instead of the broker turning it into a sign-in.
 * `message` is undefined when a POST to an ACS carried no SAMLResponse.
 */
export type RelayStateHandler = (c: Context, at: IdpEndpoint, message: IdpMessage | undefined, relayState: string) => Promise<Response>;

/**
 * The RelayState / `state` prefixes other features registered with the broker. The ACSs and the
 * OpenID Connect callback hand an answer whose RelayState or state starts with one to its
 * handler; every other answer is a sign-in. The broker so owns every endpoint the IdP calls back
 * and knows nothing of the features that share them.
 */
export class RelayStateHandlers {
  private readonly handlers = new Map<string, RelayStateHandler>();

  /** @throws Error when `prefix` is empty or already taken (a wiring mistake, at start-up). */
  register(prefix: string, handler: RelayStateHandler): void {
    if (!prefix || this.handlers.has(prefix)) throw new Error(`RelayState prefix "${prefix}" is empty or already registered`);
    this.handlers.set(prefix, handler);
  }

  /** The handler for `relayState`, or undefined when it belongs to a sign-in. */
  handlerFor(relayState: string | undefined): RelayStateHandler | undefined {
    if (relayState === undefined) return undefined;
    for (const [prefix, handler] of this.handlers) if (relayState.startsWith(prefix)) return handler;
    return undefined;
  }

  /**
   * The registered feature's answer to this message, or undefined when it is a sign-in's.
   * `relayState` undefined (IdP-initiated, or a callback without `state`) is always a sign-in's.
   */
  async answer(c: Context, at: IdpEndpoint, message: IdpMessage | undefined, relayState: string | undefined): Promise<Response | undefined> {
    const handler = this.handlerFor(relayState);
    return handler && relayState !== undefined ? handler(c, at, message, relayState) : undefined;
  }
}
