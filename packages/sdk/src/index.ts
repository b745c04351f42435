/**
 * The Lanyard browser SDK: sign agents in to a self-hosted, Flex-style desktop from its `appConfig.js`.
 * Zero dependencies, ESM, framework-free.
 *
 * Only the public API is exported here; etc/lanyard-sdk.api.md (API Extractor) records it, and
 * CI fails when it changes without that report (`npm run api:report -w @lanyard/sdk`).
 *
 * @packageDocumentation
 */
export { LanyardClient, type LanyardClientOptions, type LanyardEvents, type LanyardWarning, type SignInOptions } from './lanyard-client.ts';
export {
  validateAppConfig,
  type AppConfig,
  type AppConfigResult,
  type CommonConfig,
  type EnhancedConfig,
  type LegacyConfig,
  type OAuthSettings,
  type ResolvedAppConfig,
  type SsoSettings,
  type ValidateOptions,
} from './app-config.ts';
export {
  ConfigError,
  LanyardError,
  NetworkError,
  PopupBlockedError,
  PopupClosedError,
  ServerError,
  SessionExpiredError,
  StateMismatchError,
  type ConfigProblem,
  type ServerErrorBody,
} from './errors.ts';
export type { PendingLogin, Session, SessionStore, SessionUser, StoredSession } from './session-store.ts';
export type { SignOutReason } from './refresh-coordinator.ts';
export type { ChannelLike, LockLike } from './cross-tab.ts';
export type { Clock } from './clock.ts';
export type { FetchLike } from './lanyard-api.ts';
export { routeFlexHostsToLanyard, type FlexHostRoutingOptions } from './flex-hosts.ts';
