/**
 * The console's only way to the server: same-origin fetch with the session cookie (sent by the
 * browser, unreadable here) and the session's CSRF token in X-CSRF-Token on every call.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => undefined;

export function useSession(token: string, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 0, 'The Lanyard server could not be reached. Check that it is running, then try again.');
  }
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => null)) as (T & { code?: number; message?: string; more_info?: string }) | null;
  if (!response.ok) {
    // more_info often holds the fix (the Trusted URL to add, the setting to change): show it too.
    const message = [data?.message ?? `The server answered HTTP ${response.status}.`, data?.more_info].filter(Boolean).join(' ');
    const error = new ApiError(response.status, data?.code ?? 0, message);
    if (response.status === 401 && csrfToken) {
      csrfToken = '';
      onSignedOut();
    }
    throw error;
  }
  return data as T;
}

export const admin = <T>(method: string, path: string, body?: unknown) => api<T>(method, `/admin/v1${path}`, body);

/**
 * The admin API's response shapes, from the server's own schemas (the ones its mappers return
 * and the OpenAPI document is generated from): type-only, so nothing of the server is bundled.
 */
export type {
  Account,
  AccountSummary,
  AppConfig,
  AppConfigSnippet,
  AttributeMapping,
  AuditEvent,
  Certificate,
  Client,
  ClientWithSecret,
  Connection,
  OidcProvider,
  Readiness,
  ServiceProvider,
  SsoMode,
} from '../../server/src/admin/responses.ts';

/** The console API's shapes (session, test sign-in), from the server's schemas: type-only, as above. */
export type {
  ConsoleSession,
  TestServiceProvider,
  TestSignInReport,
  TestSignInStarted,
  TestSignInStatus,
} from '../../server/src/console/responses.ts';
