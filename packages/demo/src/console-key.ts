import type { Services } from '@lanyard/server';

/** The name the demo gives the admin key it prints; keys with other names are never touched. */
export const DEMO_CONSOLE_KEY_NAME = 'demo console (npm start)';

/**
 * A fresh admin API key for the console, in the demo's own database, printed by `npm start`.
 * The key the previous start printed is revoked first, so restarting the demo never piles up
 * live keys and only the key on screen works.
 */
export async function issueDemoConsoleKey(services: Pick<Services, 'adminKeys'>): Promise<{ sid: string; secret: string }> {
  for (const key of await services.adminKeys.list()) {
    if (key.name === DEMO_CONSOLE_KEY_NAME) await services.adminKeys.revoke(key.sid);
  }
  const { key, secret } = await services.adminKeys.create(DEMO_CONSOLE_KEY_NAME);
  return { sid: key.sid, secret };
}
