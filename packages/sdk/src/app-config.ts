import type { ConfigProblem } from './errors.ts';

/**
 * Reading and validating `window.appConfig` (SPEC "appConfig.js"). Pure: no DOM, no clock, so the
 * CLI (`lanyard appconfig check`) runs exactly the same rules as the browser.
 */

export type { ConfigProblem } from './errors.ts';

/** `appConfig.sso`, as a desktop writes it. */
export interface SsoSettings {
  /** Required: `AC` + 32 hex digits. */
  accountSid?: string;
  /** Sign in in a pop-up (both modes). */
  loginPopup?: boolean;
  /** Legacy pop-ups only: a `window.open` features string, without `noopener`. */
  loginPopupFeatures?: string;
  /** Legacy: where the token comes back (default: the page without its query). */
  redirectUrl?: string;
  /** Legacy: overrides `…/v1/Accounts/{accountSid}/authenticate`. */
  loginUrl?: string;
  /** Legacy: overrides `…/v1/Accounts/{accountSid}/Tokens/refresh`. */
  tokenRefreshUrl?: string;
  /** Legacy: go straight to this IdP URL instead of asking `…/authenticate`. */
  idpUrl?: string;
  /** Lanyard's address; the top-level `serviceBaseUrl` is preferred. */
  serviceBaseUrl?: string;
}

/** `appConfig.oauth`: its presence selects enhanced SSO. */
export interface OAuthSettings {
  /** The SSO connection (`JQ…`, the public lookup's `connection_name`). */
  connection?: string;
  /** The public lookup's `client_id`. */
  clientId?: string;
  /** Where the code comes back: same origin as the page, and one of the account's Trusted URLs. */
  redirectUrl?: string;
  /** Overrides `…/v1/Flex/Authorize` (the real Flex UI needs it). */
  authorizeUrl?: string;
  /** Overrides `…/v1/Flex/OAuth/Tokens`. */
  tokenUrl?: string;
  /** Honoured by the real Flex UI's `Manager.create` (not by `provideLoginInfo`, which reads `sso.loginPopup`). */
  loginPopup?: boolean;
  /** @deprecated the real Flex UI overwrites it with the top-level `serviceBaseUrl`: put it there. */
  serviceBaseUrl?: string;
}

/** `window.appConfig` as a desktop writes it (SPEC "appConfig.js"); other keys are left alone. */
export interface AppConfig {
  /** Lanyard's address (the real Flex UI's "runtime domain" key; it uses it for no sign-in call). */
  serviceBaseUrl?: string;
  sso?: SsoSettings;
  oauth?: OAuthSettings;
  [other: string]: unknown;
}

/** What both SSO modes resolve from `appConfig`. */
export interface CommonConfig {
  /** `AC` + 32 hex digits. */
  accountSid: string;
  /** Sign in in a pop-up rather than by redirect. */
  loginPopup: boolean;
  /** `window.open` features for the sign-in pop-up, as written. */
  loginPopupFeatures: string | undefined;
  /** Where the sign-in comes back to. Same origin as the page. */
  redirectUrl: string;
}

/** Enhanced SSO (OAuth 2.0 code + PKCE), endpoints resolved. */
export interface EnhancedConfig extends CommonConfig {
  mode: 'enhanced';
  connection: string;
  clientId: string;
  authorizeUrl: string;
  tokenUrl: string;
  /** RFC 7009 revocation, used best-effort on sign-out. */
  revokeUrl: string;
}

/** Legacy SSO (token back on the URL), endpoints resolved. */
export interface LegacyConfig extends CommonConfig {
  mode: 'legacy';
  loginUrl: string;
  tokenRefreshUrl: string;
  /** When set, sign-in goes straight to this IdP URL instead of asking Lanyard for it. */
  idpUrl: string | undefined;
}

/** A valid `appConfig` with every endpoint resolved; `mode` tells enhanced from legacy SSO. */
export type ResolvedAppConfig = EnhancedConfig | LegacyConfig;
/** Alias of `ResolvedAppConfig`. */
export type ResolvedConfig = ResolvedAppConfig;

/** `validateAppConfig`'s answer: the resolved config, or every problem found; warnings in both cases. */
export type AppConfigResult =
  { ok: true; config: ResolvedAppConfig; warnings: ConfigProblem[] } | { ok: false; problems: ConfigProblem[]; warnings: ConfigProblem[] };

/** How `validateAppConfig` reads an `appConfig`. */
export interface ValidateOptions {
  /** The address of the page that will run the desktop (in the CLI: `--origin`). */
  pageUrl: string | URL;
  /**
   * Also warn where the real `@twilio/flex-ui` would not reach Lanyard with this file (endpoints
   * it calls on Twilio's hosts unless overridden or routed, `serviceBaseUrl` where it does not
   * read it). `lanyard appconfig check` turns this on; the SDK at run time does not.
   */
  flexUi?: boolean;
}

/** Exact wording from the SPEC: desktops and their runbooks match on it. */
export const MISSING_ACCOUNT_SID = 'Invalid or missing configuration: accountSid is required';

const SSO_KEYS = ['accountSid', 'loginPopup', 'loginPopupFeatures', 'redirectUrl', 'loginUrl', 'tokenRefreshUrl', 'idpUrl', 'serviceBaseUrl'];
const OAUTH_KEYS = ['connection', 'clientId', 'redirectUrl', 'authorizeUrl', 'tokenUrl', 'loginPopup', 'serviceBaseUrl'];
const LEGACY_ONLY = ['redirectUrl', 'loginUrl', 'tokenRefreshUrl', 'idpUrl'];
const SID = (prefix: string) => new RegExp(`^${prefix}[0-9a-fA-F]{32}$`);
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const HOSTED_FLEX = 'https://flex.twilio.com';

/**
 * Validates `appConfig` for a page at `pageUrl` and resolves the endpoints the SDK will call.
 * Every mistake is reported (not only the first), each naming its field and how to fix it.
 *
 * @example
 * ```ts
 * const result = validateAppConfig(window.appConfig, { pageUrl: location.href });
 * if (!result.ok) console.error(result.problems.map((p) => `${p.field}: ${p.message}`).join('\n'));
 * ```
 */
export function validateAppConfig(input: unknown, options: ValidateOptions): AppConfigResult {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const page = new URL(String(options.pageUrl));
  const problem = (field: string, message: string) => problems.push({ field, message });

  if (!isObject(input)) {
    problem(
      'appConfig',
      'window.appConfig is missing or not an object: load assets/appConfig.js (window.appConfig = { sso: { accountSid: "AC…" } }) before the SDK.',
    );
    return { ok: false, problems, warnings };
  }
  const sso = section(input, 'sso', problem);
  const oauth = input.oauth === undefined ? undefined : section(input, 'oauth', problem);
  const enhanced = input.oauth !== undefined;
  warnUnknown('sso', sso, SSO_KEYS, warnings);
  if (oauth) warnUnknown('oauth', oauth, OAUTH_KEYS, warnings);

  const accountSid = sso.accountSid;
  if (typeof accountSid !== 'string' || accountSid.trim() === '') problem('sso.accountSid', MISSING_ACCOUNT_SID);
  else if (!SID('AC').test(accountSid))
    problem(
      'sso.accountSid',
      `sso.accountSid ${show(accountSid)} is not an account SID: it must be "AC" followed by 32 hex characters (copy it from the Lanyard console or \`lanyard accounts list\`).`,
    );

  const loginPopup = sso.loginPopup ?? false;
  if (typeof loginPopup !== 'boolean') problem('sso.loginPopup', `sso.loginPopup must be true or false (got ${show(loginPopup)}).`);
  const features = sso.loginPopupFeatures;
  if (features !== undefined && typeof features !== 'string') {
    problem(
      'sso.loginPopupFeatures',
      `sso.loginPopupFeatures must be a string of window.open features such as "width=500,height=650" (got ${show(features)}).`,
    );
  } else if (typeof features === 'string' && /\bno(opener|referrer)\b/i.test(features)) {
    problem(
      'sso.loginPopupFeatures',
      'sso.loginPopupFeatures must not contain "noopener" or "noreferrer": the sign-in window has to report back to this page. Remove them.',
    );
  }
  // The real Flex UI: Manager.create honours oauth.loginPopup (or sso.loginPopup); provideLoginInfo reads sso.loginPopup only.
  const oauthPopup = oauth?.loginPopup;
  if (oauthPopup !== undefined && typeof oauthPopup !== 'boolean')
    problem('oauth.loginPopup', `oauth.loginPopup must be true or false (got ${show(oauthPopup)}).`);
  else if (oauthPopup !== undefined && oauthPopup !== (sso.loginPopup ?? false)) {
    warnings.push({
      field: 'oauth.loginPopup',
      message: `oauth.loginPopup is honoured by the Flex UI's Manager.create, but provideLoginInfo reads sso.loginPopup only: set sso.loginPopup to ${String(oauthPopup)} too, so both sign in the same way.`,
    });
  }
  if (enhanced && typeof features === 'string') {
    warnings.push({
      field: 'sso.loginPopupFeatures',
      message:
        'sso.loginPopupFeatures is ignored in enhanced SSO (appConfig has an oauth section): the sign-in pop-up always opens at 600×800. It applies to legacy pop-ups only.',
    });
  }

  const common = {
    accountSid: String(accountSid),
    loginPopup: loginPopup === true || oauthPopup === true,
    loginPopupFeatures: typeof features === 'string' && !enhanced ? features : undefined,
  };
  // Real-Flex-UI compatibility notes go to a list that is kept only when asked for.
  const flexUiNotes: ConfigProblem[] = [];
  const base = serviceBase(input, sso, oauth, problem, flexUiNotes);
  const config = enhanced
    ? resolveEnhanced(sso, oauth ?? {}, base, page, problem, warnings, flexUiNotes)
    : resolveLegacy(sso, base, page, String(accountSid), problem, flexUiNotes);
  if (options.flexUi) warnings.push(...flexUiNotes);
  if (problems.length > 0 || !config) return { ok: false, problems, warnings };
  return { ok: true, config: { ...common, ...config } as ResolvedAppConfig, warnings };
}

type Report = (field: string, message: string) => void;

/**
 * Lanyard's address: the top-level `serviceBaseUrl`. The real Flex UI overwrites
 * `oauth.serviceBaseUrl` with the top-level key, so a value only there (or in `sso`) is read for
 * compatibility with older files, with a warning to move it.
 */
function serviceBase(
  input: Record<string, unknown>,
  sso: Record<string, unknown>,
  oauth: Record<string, unknown> | undefined,
  problem: Report,
  warnings: ConfigProblem[],
): { value: string | undefined; given: boolean } {
  for (const [field, section] of [
    ['oauth.serviceBaseUrl', oauth],
    ['sso.serviceBaseUrl', sso],
  ] as const) {
    if (section?.serviceBaseUrl === undefined) continue;
    warnings.push({
      field,
      message:
        input.serviceBaseUrl === undefined
          ? `${field} is not where the Flex UI reads it (it overwrites oauth.serviceBaseUrl with the top-level key): move it to the top level, appConfig.serviceBaseUrl.`
          : `${field} is ignored: the top-level serviceBaseUrl is used.`,
    });
  }
  const [field, value] =
    input.serviceBaseUrl !== undefined
      ? ['serviceBaseUrl', input.serviceBaseUrl]
      : oauth?.serviceBaseUrl !== undefined
        ? ['oauth.serviceBaseUrl', oauth.serviceBaseUrl]
        : ['sso.serviceBaseUrl', sso.serviceBaseUrl];
  return { value: baseUrl(field, value, problem), given: value !== undefined };
}

/** Endpoints the real Flex UI calls on Twilio's hosts unless overridden (SPEC): say so, and how to fix it. */
function warnFixedHost(field: string, lanyardPath: string, base: string | undefined, navigation: boolean, warnings: ConfigProblem[]): void {
  const target = base === undefined ? `<Lanyard>${lanyardPath}` : base + lanyardPath;
  warnings.push({
    field,
    message: navigation
      ? `${field} is not set: the Flex UI sends the agent to Twilio's address for this step, which no routing can change (it is a page navigation). Set ${field} to "${target}".`
      : `${field} is not set: the Flex UI calls Twilio's host for this step. Set ${field} to "${target}", or route Twilio's hosts to Lanyard (docs/flex-ui.md).`,
  });
}

function resolveEnhanced(
  sso: Record<string, unknown>,
  oauth: Record<string, unknown>,
  service: { value: string | undefined; given: boolean },
  page: URL,
  problem: Report,
  warnings: ConfigProblem[],
  flexUiNotes: ConfigProblem[],
) {
  for (const key of LEGACY_ONLY) {
    if (sso[key] !== undefined)
      warnings.push({
        field: `sso.${key}`,
        message: `sso.${key} is ignored in enhanced SSO (appConfig has an oauth section)${key === 'redirectUrl' ? ': oauth.redirectUrl is used' : ''}.`,
      });
  }
  const connection = oauth.connection;
  if (typeof connection !== 'string' || connection === '')
    problem(
      'oauth.connection',
      'oauth.connection is required: the SSO profile SID ("JQ" followed by 32 hex characters) shown by the public lookup as connection_name.',
    );
  else if (!SID('JQ').test(connection))
    problem(
      'oauth.connection',
      `oauth.connection ${show(connection)} is not an SSO profile SID: it must be "JQ" followed by 32 hex characters (connection_name in the public lookup).`,
    );
  const clientId = oauth.clientId;
  if (typeof clientId !== 'string' || clientId.trim() === '')
    problem('oauth.clientId', 'oauth.clientId is required: copy client_id from the public lookup (/v1/Flex/Authentication/Config?AccountSid=AC…).');
  else if (/\s/.test(clientId))
    problem('oauth.clientId', `oauth.clientId ${show(clientId)} contains whitespace: copy client_id exactly from the public lookup.`);

  let redirectUrl: string | undefined;
  if (oauth.redirectUrl === undefined) {
    if (page.origin === HOSTED_FLEX) redirectUrl = page.origin + '/';
    else
      problem(
        'oauth.redirectUrl',
        `oauth.redirectUrl is required on a self-hosted desktop: set it to this desktop's address, e.g. "${page.origin}/", and add that address to the account's Trusted URLs.`,
      );
  } else {
    redirectUrl = checkRedirect('oauth.redirectUrl', oauth.redirectUrl, page, problem);
  }

  const base = service.value;
  const authorizeUrl = endpoint('oauth.authorizeUrl', oauth.authorizeUrl, base, '/v1/Flex/Authorize', problem);
  const tokenUrl = endpoint('oauth.tokenUrl', oauth.tokenUrl, base, '/v1/Flex/OAuth/Tokens', problem);
  if ((!authorizeUrl || !tokenUrl) && !service.given) {
    problem(
      'serviceBaseUrl',
      'serviceBaseUrl is required: set the top-level appConfig.serviceBaseUrl to your Lanyard server\'s address, e.g. "https://sso.example.com" (or set both oauth.authorizeUrl and oauth.tokenUrl).',
    );
  }
  if (oauth.authorizeUrl === undefined) warnFixedHost('oauth.authorizeUrl', '/v1/Flex/Authorize', base, true, flexUiNotes);
  if (oauth.tokenUrl === undefined) warnFixedHost('oauth.tokenUrl', '/v1/Flex/OAuth/Tokens', base, false, flexUiNotes);
  if (!redirectUrl || !authorizeUrl || !tokenUrl) return undefined;
  const revokeUrl = base !== undefined ? `${base}/oauth2/revoke` : new URL('/oauth2/revoke', tokenUrl).toString();
  return { mode: 'enhanced' as const, connection: String(connection), clientId: String(clientId), redirectUrl, authorizeUrl, tokenUrl, revokeUrl };
}

function resolveLegacy(
  sso: Record<string, unknown>,
  service: { value: string | undefined; given: boolean },
  page: URL,
  accountSid: string,
  problem: Report,
  warnings: ConfigProblem[],
) {
  // SPEC: redirectUrl defaults to the page itself (without its query: tokens will be added there).
  const redirectUrl = sso.redirectUrl === undefined ? page.origin + page.pathname : checkRedirect('sso.redirectUrl', sso.redirectUrl, page, problem);
  const base = service.value;
  const withSid = (value: unknown) => (typeof value === 'string' ? value.replaceAll('{accountSid}', accountSid) : value);
  const loginUrl = endpoint('sso.loginUrl', withSid(sso.loginUrl), base, `/v1/Accounts/${accountSid}/authenticate`, problem);
  const tokenRefreshUrl = endpoint('sso.tokenRefreshUrl', withSid(sso.tokenRefreshUrl), base, `/v1/Accounts/${accountSid}/Tokens/refresh`, problem);
  const idpUrl = sso.idpUrl === undefined ? undefined : checkUrl('sso.idpUrl', sso.idpUrl, problem);
  if ((!loginUrl || !tokenRefreshUrl) && !service.given) {
    problem(
      'serviceBaseUrl',
      'serviceBaseUrl is required: set the top-level appConfig.serviceBaseUrl to your Lanyard server\'s address, e.g. "https://sso.example.com" (or set both sso.loginUrl and sso.tokenRefreshUrl).',
    );
  }
  if (sso.loginUrl === undefined) warnFixedHost('sso.loginUrl', '/v1/Accounts/{accountSid}/authenticate', base, false, warnings);
  if (sso.tokenRefreshUrl === undefined) warnFixedHost('sso.tokenRefreshUrl', '/v1/Accounts/{accountSid}/Tokens/refresh', base, false, warnings);
  if (!redirectUrl || !loginUrl || !tokenRefreshUrl) return undefined;
  return { mode: 'legacy' as const, redirectUrl, loginUrl, tokenRefreshUrl, idpUrl };
}

function section(input: Record<string, unknown>, name: 'sso' | 'oauth', problem: Report): Record<string, unknown> {
  const value = input[name];
  if (value === undefined && name === 'sso') return {};
  if (isObject(value)) return value;
  problem(
    name,
    `appConfig.${name} must be an object such as ${name === 'sso' ? '{ accountSid: "AC…" }' : '{ connection: "JQ…", clientId: "…", redirectUrl: "https://…" }'} (got ${show(value)}).`,
  );
  return {};
}

/** The redirect must come back to this page's origin, or the page could not finish the sign-in. */
function checkRedirect(field: string, value: unknown, page: URL, problem: Report): string | undefined {
  const url = checkUrl(field, value, problem);
  if (!url) return undefined;
  const parsed = new URL(url);
  let ok = true;
  if (parsed.search || parsed.hash) {
    problem(
      field,
      `${field} ${show(value)} must not have a query string or fragment (Trusted URL rules): sign-in adds its own parameters. Use "${parsed.origin}${parsed.pathname}".`,
    );
    ok = false;
  }
  if (parsed.origin !== page.origin) {
    problem(
      field,
      `${field} ${show(value)} is on ${parsed.origin}, but this page is on ${page.origin}: the sign-in would come back to another site and this page could not finish it. Use an address on ${page.origin} (and trust it in Lanyard).`,
    );
    ok = false;
  }
  return ok ? url : undefined;
}

/** Absolute http(s) URL; plain http only on loopback (tokens travel here). */
function checkUrl(field: string, value: unknown, problem: Report): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    problem(field, `${field} must be an absolute URL string such as "https://sso.example.com" (got ${show(value)}).`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problem(field, `${field} ${show(value)} is not an absolute URL: write it in full, e.g. "https://sso.example.com".`);
    return undefined;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    problem(field, `${field} ${show(value)} must use https:// (http:// is accepted only for localhost, 127.0.0.1 and [::1]).`);
    return undefined;
  }
  if (url.username || url.password) {
    problem(field, `${field} ${show(value)} must not contain a user name or password. Remove the "…@" part.`);
    return undefined;
  }
  return url.toString();
}

function baseUrl(field: string, value: unknown, problem: Report): string | undefined {
  if (value === undefined) return undefined;
  const url = checkUrl(field, value, problem);
  if (!url) return undefined;
  const parsed = new URL(url);
  if (parsed.search || parsed.hash) {
    problem(field, `${field} ${show(value)} must not have a query string or fragment: give the server's base address only.`);
    return undefined;
  }
  return (parsed.origin + parsed.pathname).replace(/\/+$/, '');
}

/** An explicit override wins; otherwise the path under the service base URL. */
function endpoint(field: string, override: unknown, base: string | undefined, path: string, problem: Report): string | undefined {
  if (override !== undefined) return checkUrl(field, override, problem);
  return base === undefined ? undefined : base + path;
}

function warnUnknown(name: string, value: Record<string, unknown>, known: string[], warnings: ConfigProblem[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || (name === 'oauth' && key === 'loginPopup')) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    warnings.push({
      field: `${name}.${key}`,
      message: `${name}.${key} is not a setting the SDK knows and is ignored${near ? ` (did you mean ${name}.${near}?)` : ''}.`,
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '…' : value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
