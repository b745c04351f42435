import type { AccountService } from '../accounts/account-service.ts';
import type { AuthConfigEntry } from '../accounts/public-lookup.ts';
import { InvalidParameterError } from '../errors.ts';
import { requireSid } from '../ids.ts';

/** The public lookup's path (SPEC "Lookup"). */
export const LOOKUP_PATH = '/v1/Flex/Authentication/Config';

/** The lookup's `Cache-Control`: desktops call it on every page load; an answer may be kept 60 s, by shared caches too. */
export const LOOKUP_CACHE_CONTROL = 'public, max-age=60';

/**
 * The public lookup's parameters. flex-sdk 3.0.0 sends every one of them, empty when unknown
 * (`AccountSid=&FlexInstanceSid=&RuntimeDomain=&SSOProfileSid=&AppType=SinglePageApp`): an empty
 * value means "not given". Given values are filters; a malformed SID is a 400 naming it.
 */
export interface LookupQuery {
  accountSid: string | undefined;
  instanceSid: string | undefined;
  connectionSid: string | undefined;
  runtimeDomain: string | undefined;
  appType: string | undefined;
}

const given = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());

export function lookupQuery(query: Record<string, string>): LookupQuery {
  const accountSid = given(query.AccountSid);
  const instanceSid = given(query.FlexInstanceSid);
  const connectionSid = given(query.SSOProfileSid);
  const runtimeDomain = given(query.RuntimeDomain);
  if (accountSid === undefined && runtimeDomain === undefined) {
    throw new InvalidParameterError('AccountSid is required: "AC" followed by 32 hex characters (or RuntimeDomain).');
  }
  return {
    accountSid: accountSid === undefined ? undefined : requireSid('account', accountSid, 'AccountSid'),
    instanceSid: instanceSid === undefined ? undefined : requireSid('instance', instanceSid, 'FlexInstanceSid'),
    connectionSid: connectionSid === undefined ? undefined : requireSid('connection', connectionSid, 'SSOProfileSid'),
    runtimeDomain,
    appType: given(query.AppType),
  };
}

/**
 * `RuntimeDomain` names a Twilio Serverless domain (flex-sdk turns `name` into `name.twil.io`);
 * Lanyard accounts have none, so a lookup by it alone finds nothing: an empty list, as for an
 * unknown account, never a 400. Lanyard issues tokens to single-page apps only, so any other
 * `AppType` also finds nothing.
 */
export async function lookup(accounts: AccountService, query: LookupQuery): Promise<AuthConfigEntry[]> {
  if (!canFindAny(query)) return [];
  return matching(await accounts.lookupConfig(query.accountSid), query);
}

/** Whether a lookup can find entries at all: it names an account and asks for single-page apps (or any app type). */
export const canFindAny = (query: LookupQuery): query is LookupQuery & { accountSid: string } =>
  query.accountSid !== undefined && (query.appType === undefined || query.appType === 'SinglePageApp');

/** The entries of an account that match the lookup's filters (`FlexInstanceSid`, `SSOProfileSid`). */
export function matching(entries: AuthConfigEntry[], query: LookupQuery): AuthConfigEntry[] {
  return entries.filter(
    (entry) =>
      (query.instanceSid === undefined || entry.instance_sid === query.instanceSid) &&
      (query.connectionSid === undefined || entry.connection_name === query.connectionSid),
  );
}
