/**
 * Every failure Lanyard reports is a LanyardError. It carries the wire shape from the SPEC
 * (`code`, `status`, `message`, `more_info`) and, for the standard OAuth surface, the RFC 6749
 * error string. Only the HTTP edge turns these into JSON or an HTML page.
 */
export class LanyardError extends Error {
  readonly code: number;
  readonly status: number;
  readonly oauthError: string;
  readonly moreInfo: string | undefined;

  constructor(opts: { code: number; status: number; message: string; oauthError?: string; moreInfo?: string }) {
    super(opts.message);
    this.name = new.target.name;
    this.code = opts.code;
    this.status = opts.status;
    this.oauthError = opts.oauthError ?? defaultOAuthError(opts.status);
    this.moreInfo = opts.moreInfo;
  }

  toJSON(): { code: number; message: string; status: number; more_info?: string } {
    return {
      code: this.code,
      message: this.message,
      status: this.status,
      ...(this.moreInfo ? { more_info: this.moreInfo } : {}),
    };
  }
}

/**
 * RFC 6749 §5.2 / §4.1.2.1: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E
 * (printable ASCII without `"` and `\`). Quotes become apostrophes, section signs "section",
 * anything else outside the set is dropped. Messages are ours: client input is never echoed.
 */
export function oauthDescription(message: string): string {
  return message
    .replace(/"/g, "'")
    .replace(/§/g, 'section ')
    .replace(/[—–]/g, '-')
    .replace(/…/g, '...')
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')
    .slice(0, 500);
}

function defaultOAuthError(status: number): string {
  if (status === 401) return 'invalid_client';
  if (status === 403) return 'access_denied';
  if (status === 429) return 'temporarily_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

/** A parameter is missing or malformed (Twilio-style 20001). */
export class InvalidParameterError extends LanyardError {
  constructor(message: string) {
    super({ code: 20001, status: 400, message });
  }
}

export class AuthenticationError extends LanyardError {
  constructor(message = 'Authentication required: send valid credentials.') {
    super({ code: 20003, status: 401, message, oauthError: 'invalid_client' });
  }
}

/** Authenticated, but the request lacks proof it came from our own page (CSRF) or the right. */
export class ForbiddenError extends LanyardError {
  constructor(message: string) {
    super({ code: 20403, status: 403, message, oauthError: 'access_denied' });
  }
}

/**
 * A request body over the limit (RFC 9110 §15.5.14, 413). The connection is closed with the
 * answer: its unread rest would otherwise be taken for the next request.
 */
export class ContentTooLargeError extends LanyardError {
  constructor(limitBytes: number) {
    super({ code: 20413, status: 413, message: `The request body is too large: at most ${limitBytes / 1024} KiB is accepted.` });
  }
}

export class NotFoundError extends LanyardError {
  constructor(message: string) {
    super({ code: 20404, status: 404, message });
  }
}

/**
 * A record key no storage backend can keep (storage/storable-values.ts): one holding a NUL
 * character or an unpaired UTF-16 surrogate, or past 2,048 UTF-8 bytes. A 400 on SQLite and
 * PostgreSQL alike; outside input is refused earlier with its field named.
 */
export class UnstorableValueError extends InvalidParameterError {
  /** The problem alone (`an identifier holds a NUL character (U+0000)`), for callers that word their own message. */
  readonly detail: string;
  constructor(detail: string) {
    super(`The request cannot be stored: ${detail}. Send it without that value.`);
    this.detail = detail;
  }
}

export class ConflictError extends LanyardError {
  constructor(message: string) {
    super({ code: 20409, status: 409, message });
  }
}

/**
 * A change that lost to other requests' writes of the same record MAX_UPDATE_ATTEMPTS times
 * running (storage/update-record.ts): nothing was written; the same request again will most
 * likely land. 409; RFC 6749 `temporarily_unavailable` where a sign-in hears of it in a redirect.
 */
export class ConcurrentChangeError extends LanyardError {
  constructor(what: string, attempts: number) {
    super({
      code: 20409,
      status: 409,
      message: `${what} was changed by ${attempts} other requests while this one tried to change it; nothing was written, try again.`,
      oauthError: 'temporarily_unavailable',
    });
  }
}

/**
 * A write (Storage.upsert, Storage.replace) whose second unique key, `lookup`, another record of its kind holds:
 * taken between a caller's check and its write, by a request running at the same time. 409;
 * services that know what the key means (a user's unique id) answer in their own words.
 */
export class LookupTakenError extends ConflictError {
  /** The record kind whose lookup is taken (`user`). */
  readonly kind: string;
  constructor(kind: string) {
    super(`Another ${kind} took the same unique key at the same moment; read it again and retry.`);
    this.kind = kind;
  }
}

/** SPEC: a `resource`/`redirectUrl` outside the account's Trusted URLs. */
export class UntrustedDomainError extends LanyardError {
  constructor(detail?: string) {
    super({
      code: 70002,
      status: 400,
      message: 'Trusted Login has not been enabled for this domain.',
      moreInfo: detail,
    });
  }
}

/**
 * Standard surface: `redirect_uri` is not one of the client's registered redirect URIs (exact
 * match, RFC 9700 §4.1.1). Trusted URLs play no part here; the fix is on the client.
 */
export class UnregisteredRedirectUriError extends LanyardError {
  /**
   * `clientId`: the client whose list was searched (our own ID, looked up before; never the
   * request's redirect URI): `moreInfo` tells the administrator where that client's list is edited.
   */
  constructor(parameter: 'redirect_uri' | 'post_logout_redirect_uri' = 'redirect_uri', clientId?: string) {
    super({
      code: 70003,
      status: 400,
      message: `The ${parameter} is not one of the redirect URIs registered for this client (exact match required, RFC 9700 §4.1.1).`,
      ...(clientId
        ? {
            moreInfo: `Client ${clientId}: an administrator adds the URI to its redirect URIs with lanyard clients update ${clientId} --redirect-uri <uri> (repeat for each URI; the list is replaced), in the console (account page, OpenID Connect clients), or with PATCH /admin/v1/clients/${clientId}.`,
          }
        : {}),
    });
  }
}

/** SPEC: the account's SSO settings cannot be used (bad certificate, URLs, missing setup). */
export class InvalidSsoSettingsError extends LanyardError {
  constructor(detail: string) {
    super({ code: 70251, status: 403, message: `Single sign-on settings are invalid: ${detail}` });
  }
}

/** Where an IdP puts what it says of a user, by protocol; both when the protocol is not known. */
const ATTRIBUTE_CARRIER = {
  saml: 'Add it to the SAML assertion at the IdP',
  oidc: 'Add it to the ID token or userinfo at the OpenID Connect provider',
  unknown: 'Add it to what the IdP sends (a SAML assertion attribute, or an OpenID Connect claim in the ID token or userinfo)',
} as const;

/** The `lanyard mapping set` option that names where a profile field comes from. */
const MAPPING_FLAGS: ReadonlyMap<string, string> = new Map([
  ['full_name', '--full-name'],
  ['email', '--email'],
  ['roles', '--roles'],
  ['image_url', '--image-url'],
]);

/**
 * SPEC: the IdP did not send a mandatory attribute. `protocol` words the fix (assertion, or ID
 * token and userinfo); `cause` is a known cause with its fix (e.g. a scope the OIDC connection
 * does not request, oidc-scopes.ts), appended to the message.
 */
export class MissingAttributeError extends LanyardError {
  readonly attribute: string;
  constructor(attribute: string, context: { protocol?: 'saml' | 'oidc'; cause?: string | null; connectionSid?: string } = {}) {
    const what = context.protocol === 'oidc' ? 'claim' : 'attribute';
    // The same fix from a terminal, for the fields the mapping names.
    const flag = MAPPING_FLAGS.get(attribute);
    const cli = flag && context.connectionSid ? ` (lanyard mapping set ${context.connectionSid} ${flag} <names>)` : '';
    super({
      code: 45050,
      status: 401,
      message:
        `The identity provider did not send the mandatory ${what} "${attribute}". ${ATTRIBUTE_CARRIER[context.protocol ?? 'unknown']}, ` +
        `or name the ${what} it sends under "Attributes and roles" of this connection${cli}.${context.cause ? ` ${context.cause}` : ''}`,
      oauthError: 'access_denied',
    });
    this.attribute = attribute;
  }
}

/**
 * Roles arrived, but none is a role this account recognises (admin, supervisor, agent, its
 * declared roles) or has mapped: a desktop could do nothing with them (SPEC: `roles` mandatory).
 */
export class NoRecognisedRoleError extends LanyardError {
  readonly received: string[];
  constructor(received: string[], recognised: string[]) {
    const shown = received.slice(0, 10).map((v) => `"${v.slice(0, 100)}"`);
    const list = received.length > 10 ? `${shown.join(', ')} and ${received.length - 10} more` : shown.join(', ');
    super({
      code: 45050,
      status: 401,
      message:
        `None of the roles the identity provider sent is recognised: it sent ${list}. Recognised roles are ${recognised.join(', ')}. ` +
        'Map the IdP\'s values to roles under "Role values" (console: "Attributes and roles" of this connection), or declare them as roles of the account.',
      oauthError: 'access_denied',
    });
    this.received = received;
  }
}

/**
 * The IdP sent a value of the user's that Lanyard cannot keep as sent: a NUL character, an
 * unpaired UTF-16 surrogate, a unique id past its length (storage/storable-values.ts). 45050,
 * whose text the real Flex client shows (SPEC "Errors"), like a missing attribute.
 */
export class UnusableIdpValueError extends LanyardError {
  /** `what`: the value, in the connection's words (`unique id (NameID or sub)`, `attribute "email"`); `fix`: the remedy. */
  constructor(what: string, problem: string, fix: string) {
    super({
      code: 45050,
      status: 401,
      message: `The identity provider's ${what} cannot be used: it ${problem}. ${fix}`,
      oauthError: 'access_denied',
    });
  }
}

/** The IdP's answer failed verification (signature, audience, time window, replay…). */
export class SamlResponseError extends LanyardError {
  /** The cause and fix alone, without the leading "The identity provider's response was rejected". */
  readonly detail: string;

  constructor(detail: string) {
    super({ code: 45010, status: 401, message: `The identity provider's response was rejected: ${detail}`, oauthError: 'access_denied' });
    this.detail = detail;
  }
}

/** OAuth grant failures: bad code, verifier, refresh token. RFC 6749 §5.2 `invalid_grant`. */
export class InvalidGrantError extends LanyardError {
  constructor(message: string) {
    super({ code: 45200, status: 400, message, oauthError: 'invalid_grant' });
  }
}

export class InvalidTokenError extends LanyardError {
  constructor(message: string) {
    super({ code: 20151, status: 401, message, oauthError: 'invalid_token' });
  }
}

/** An access token past its `exp`: told apart so desktop endpoints can answer 20104 (SPEC). */
export class ExpiredTokenError extends InvalidTokenError {
  constructor() {
    super('The token has expired.');
  }
}

/** The session has reached its maximum lifetime (end of shift): sign in again. */
export class SessionLifetimeExceededError extends LanyardError {
  constructor() {
    super({
      code: 45210,
      status: 400,
      message: 'The session has reached its maximum lifetime; sign in again.',
      oauthError: 'invalid_grant',
    });
  }
}

export class RateLimitedError extends LanyardError {
  readonly retryAfterSeconds: number;
  /** `reason`: which budget ran out, when it is not the client address's. */
  constructor(retryAfterSeconds: number, reason?: string) {
    super({ code: 20429, status: 429, message: `Too many requests; retry after ${retryAfterSeconds} seconds.${reason ? ` ${reason}` : ''}` });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class StorageUnavailableError extends LanyardError {
  constructor(detail: string) {
    super({ code: 20503, status: 503, message: `The database is unavailable: ${detail}` });
  }

  /** Storage used after `close()`: a request that outlived its node's shutdown (LANYARD_SHUTDOWN_TIMEOUT), a timer that fired late. */
  static closed(): StorageUnavailableError {
    return new StorageUnavailableError('this node is shutting down and has closed its database connection; send the request again (to another node)');
  }
}

/**
 * A SAML response this node could not verify now (its verification workers are busy, stopped,
 * or the node is shutting down): nothing was decided about the user, so a 503, never a 401. The
 * sign-in it answers is spent (every ACS spends its one-time state first), so no Retry-After:
 * the way on is a new sign-in.
 */
export class SamlVerificationUnavailableError extends LanyardError {
  constructor(detail: string) {
    // RFC 6749 §4.1.2.1 `temporarily_unavailable`: at the enhanced ACS the desktop hears of it in the redirect.
    super({
      code: 20530,
      status: 503,
      message: `The sign-in could not be completed right now: ${detail}. Sign in again in a moment.`,
      oauthError: 'temporarily_unavailable',
    });
  }
}

/** A bad setting found at start: the operator's input, so a 4xx (the CLI exits 2); never sent over HTTP. */
export class ConfigError extends LanyardError {
  constructor(message: string) {
    super({ code: 10001, status: 400, message });
  }
}
