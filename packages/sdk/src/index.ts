/**
 * @lanyard/sdk: sign agents in to a self-hosted, Flex-style desktop from its `appConfig.js`.
 * Zero dependencies, ESM, framework-free.
 */
export { LanyardClient, type LanyardClientOptions, type LanyardEvents, type LanyardWarning, type SignInOptions } from './lanyard-client.ts';
export {
  MISSING_ACCOUNT_SID,
  validateAppConfig,
  type AppConfig,
  type AppConfigResult,
  type EnhancedConfig,
  type LegacyConfig,
  type OAuthSettings,
  type ResolvedAppConfig,
  type ResolvedConfig,
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
export {
  createBrowserStore,
  createMemoryStore,
  type PendingLogin,
  type Session,
  type SessionStore,
  type SessionUser,
  type StoredSession,
} from './session-store.ts';
export { RefreshCoordinator, refreshAt, type RefreshCoordinatorOptions, type SignOutReason } from './refresh-coordinator.ts';
export { createLeaseLock, createMemoryChannelHub, createMemoryLock, type ChannelLike, type LockLike } from './cross-tab.ts';
export { systemClock, type Clock } from './clock.ts';
export { codeChallengeS256, createPkcePair, type PkcePair } from './pkce.ts';
export type { FetchLike } from './lanyard-api.ts';
export { routeFlexHost, routeFlexHostsToLanyard, type FlexHostRoute, type FlexHostRoutingOptions } from './flex-hosts.ts';
