import type { EnhancedConfig } from './app-config.ts';
import type { Clock } from './clock.ts';
import {
  beginEnhanced,
  callbackError,
  ENHANCED_POPUP_MESSAGE,
  exchangeCode,
  readCallback,
  refreshEnhanced,
  revokeEnhanced,
  type CallbackParams,
} from './enhanced-sso.ts';
import { StateMismatchError } from './errors.ts';
import type { FetchLike } from './lanyard-api.ts';
import type { SignInStrategy } from './sign-in-strategy.ts';

/** Enhanced SSO as a sign-in strategy: `/v1/Flex/Authorize` with PKCE, the code exchanged at `/v1/Flex/OAuth/Tokens`. */
export function enhancedStrategy(config: EnhancedConfig, fetchFn: FetchLike, clock: Clock): SignInStrategy<CallbackParams> {
  return {
    mode: 'enhanced',
    warnings: [],
    async begin(remember) {
      const { url, pending } = await beginEnhanced(config, clock);
      remember(pending);
      return url;
    },
    readCallback,
    readPopupMessage: (data) => {
      const message = data as { type?: unknown; params: CallbackParams } | null;
      return message?.type === ENHANCED_POPUP_MESSAGE ? message.params : undefined;
    },
    stateOf: (params) => params.state ?? undefined,
    async complete(params, pending) {
      // RFC 9700 §4.7.1: the state this tab sent, or the code is someone else's (login CSRF).
      if (!pending || pending.mode !== 'enhanced' || pending.state !== params.state) throw new StateMismatchError();
      const refused = callbackError(params);
      if (refused) throw refused;
      return exchangeCode(config, fetchFn, clock, pending, params.code!);
    },
    refresh: (session) => refreshEnhanced(config, fetchFn, clock, session),
    revoke: (refreshToken) => revokeEnhanced(config, fetchFn, refreshToken),
  };
}
