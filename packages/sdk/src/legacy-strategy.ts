import { hasNoReferrerMeta } from './address-bar.ts';
import type { LegacyConfig } from './app-config.ts';
import type { Clock } from './clock.ts';
import { StateMismatchError } from './errors.ts';
import type { FetchLike } from './lanyard-api.ts';
import { acceptLegacyToken, authenticate, LEGACY_POPUP_MESSAGE, readLegacyCallback, refreshLegacy, type LegacyTokenPayload } from './legacy-sso.ts';
import type { SignInStrategy } from './sign-in-strategy.ts';

/**
 * Legacy SSO as a sign-in strategy: `…/authenticate` names the IdP, the token comes back on the
 * address. `allowIdpInitiated` accepts a token this tab did not ask for.
 */
export function legacyStrategy(
  config: LegacyConfig,
  fetchFn: FetchLike,
  clock: Clock,
  allowIdpInitiated = false,
): SignInStrategy<LegacyTokenPayload> {
  return {
    mode: 'legacy',
    warnings: hasNoReferrerMeta()
      ? []
      : [
          {
            code: 'no_referrer_policy',
            message:
              'Legacy SSO puts the token on this page\'s address: add <meta name="referrer" content="no-referrer"> so it cannot leak to other sites through the Referer header.',
          },
        ],
    async begin(remember) {
      remember({ mode: 'legacy', state: '', nonce: '', verifier: '', startedAt: clock.now() });
      return config.idpUrl ?? (await authenticate(config, fetchFn));
    },
    readCallback: readLegacyCallback,
    readPopupMessage: (data) => {
      const message = data as { messageId?: unknown; tokenPayload?: LegacyTokenPayload } | null;
      return message?.messageId === LEGACY_POPUP_MESSAGE && typeof message.tokenPayload?.token === 'string' ? message.tokenPayload : undefined;
    },
    stateOf: () => undefined,
    async complete(payload, pending) {
      if (pending?.mode !== 'legacy' && !allowIdpInitiated) {
        throw new StateMismatchError(
          'A sign-in token arrived on the address bar, but this tab did not start a sign-in (IdP-initiated sign-in is off in this desktop).',
        );
      }
      return acceptLegacyToken(payload, config.accountSid, clock.now());
    },
    refresh: (session) => refreshLegacy(config, fetchFn, clock, session),
    revoke: async () => {},
  };
}
