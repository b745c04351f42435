import type { Lanyard } from '@lanyard/server';
import { ensureDemoAccount, type DemoAccount } from './demo-account.ts';
import { startDesktopServer } from './desktop-server.ts';
import { startDevIdp, type DevIdp, type DevUser } from './dev-idp/index.ts';

export interface DemoOptions {
  /** The Lanyard server the demo is wired to (started by the caller: `npm start`, or a test fixture). */
  lanyard: Pick<Lanyard, 'url' | 'services'>;
  host?: string;
  /** 0 (the default) picks a free port. */
  idpPort?: number;
  desktopPort?: number;
  users?: DevUser[];
  /** Cross-Origin-Opener-Policy sent by the IdP's and/or the desktop's pages (none by default). */
  crossOriginOpenerPolicy?: { idp?: string; desktop?: string };
}

export interface Demo {
  idp: DevIdp;
  account: DemoAccount;
  /** The demo agent desktop: enhanced SSO at `/`, legacy SSO at `/legacy/`. */
  desktop: { url: string; close(): Promise<void> };
  close(): Promise<void>;
}

/**
 * Everything around a Lanyard server that a newcomer needs to see an agent sign in: the
 * development SAML IdP, an account wired to it, and the demo desktop on its own origin.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const idp = await startDevIdp({
    port: options.idpPort ?? 0,
    host,
    users: options.users,
    crossOriginOpenerPolicy: options.crossOriginOpenerPolicy?.idp,
  });
  let account: DemoAccount | undefined;
  // The desktop's origin (its port) must be known before the account can trust it.
  const desktop = await startDesktopServer({
    host,
    port: options.desktopPort ?? 0,
    lanyardUrl: options.lanyard.url,
    crossOriginOpenerPolicy: options.crossOriginOpenerPolicy?.desktop,
    demo: () => {
      if (!account) throw new Error('the demo account is not set up yet');
      return account;
    },
  });
  try {
    account = await ensureDemoAccount(options.lanyard.services, idp, desktop.url);
  } catch (error) {
    await Promise.allSettled([desktop.close(), idp.close()]);
    throw error;
  }
  return {
    idp,
    account,
    desktop,
    close: async () => {
      await Promise.allSettled([desktop.close(), idp.close()]);
    },
  };
}
