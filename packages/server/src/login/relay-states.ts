import type { Context } from 'hono';

/** Which service provider's ACS received a SAML response, and the SID its URL names. */
export interface AcsEndpoint {
  /** `enhanced`: `/login/callback?connection=JQ…`; `legacy`: `/v1/Accounts/AC…/saml2`. */
  serviceProvider: 'enhanced' | 'legacy';
  /** The connection SID (enhanced) or account SID (legacy). */
  sid: string;
}

/**
 * Answers a SAML response whose RelayState another feature started (the console's test sign-in),
 * instead of the broker turning it into a sign-in.
 */
export type RelayStateHandler = (c: Context, at: AcsEndpoint, samlResponse: string | undefined, relayState: string) => Promise<Response>;

/**
 * The RelayState prefixes other features registered with the broker. The ACSs hand a response
 * whose RelayState starts with one to its handler; every other response is a sign-in. The broker
 * so owns every endpoint the IdP calls back and knows nothing of the features that share them.
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
   * The registered feature's answer to this response, or undefined when it is a sign-in's.
   * `relayState` undefined (IdP-initiated) is always a sign-in's.
   */
  async answer(c: Context, at: AcsEndpoint, samlResponse: string | undefined, relayState: string | undefined): Promise<Response | undefined> {
    const handler = this.handlerFor(relayState);
    return handler && relayState !== undefined ? handler(c, at, samlResponse, relayState) : undefined;
  }
}
