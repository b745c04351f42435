import type { Services } from '@lanyard/server';
import type { DevIdp } from './dev-idp/index.ts';

const DEMO_NAME = 'Demo contact center';

export interface DemoAccount {
  account: { sid: string; instanceSid: string };
  connection: { sid: string; clientId: string };
}

/**
 * The demo account, wired to the development IdP: created on first start, re-pointed at the
 * IdP's current certificate on every start, with both desktop paths trusted.
 */
export async function ensureDemoAccount(services: Services, idp: DevIdp, desktopOrigin: string): Promise<DemoAccount> {
  const { accounts } = services;
  const existing = (await accounts.listAccounts()).find((a) => a.friendlyName === DEMO_NAME);
  const account = existing ?? (await accounts.createAccount(DEMO_NAME)).account;
  const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
  const fresh = await accounts.getAccount(account.sid);
  if (!fresh.trustedUrls.includes(`${desktopOrigin}/`)) await accounts.addTrustedUrl(account.sid, `${desktopOrigin}/`);
  await accounts.setDefaultRedirectUrl(account.sid, `${desktopOrigin}/`);
  // The demo shows both flows: enhanced at /, legacy at /legacy/.
  if (fresh.ssoMode !== 'both') await accounts.setMode(account.sid, 'both');
  return { account: { sid: account.sid, instanceSid: account.instanceSid }, connection: { sid: connection.sid, clientId: connection.clientId } };
}
