import { ConfigError, loadConfig, startLanyard } from '@lanyard/server';
import { databaseLabel } from '@lanyard/server/storage/database-label.ts';
import { issueDemoConsoleKey } from './console-key.ts';
import { startDemo } from './demo.ts';

/**
 * `npm start`: Lanyard on embedded SQLite, the development SAML IdP, a demo account wired to it
 * and the demo agent desktop, on loopback. The development IdP exists only here; the production
 * entry point (`lanyard serve`) never starts it.
 */
const env = process.env;
const host = env.LANYARD_HOST ?? '127.0.0.1';
// Its own database, so the demo account and its keys never mix with `lanyard serve`'s data
// (.lanyard/lanyard.db); the banner prints the variable that points the CLI at it.
/** A configuration mistake (a port in use, a bad variable) is one line naming it and exit code 2, as in `lanyard serve`. */
function refuse(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`npm start: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof Error && (error as { code?: unknown }).code === 'EADDRINUSE') {
    console.error(`npm start: ${error.message}: another demo may be running (set DEMO_IDP_PORT / DEMO_DESKTOP_PORT / LANYARD_PORT).`);
    process.exit(2);
  }
  throw error;
}
/**
 * DEMO_IDP_COOP / DEMO_DESKTOP_COOP: the Cross-Origin-Opener-Policy the development IdP's pages
 * or the desktop's pages send, to try pop-up sign-in the way an IdP (or a desktop) that sends one
 * puts it (packages/sdk/README.md, "Pop-ups and Cross-Origin-Opener-Policy"). Unset: none.
 */
const COOP_VALUES = ['same-origin', 'same-origin-allow-popups', 'noopener-allow-popups', 'unsafe-none'];
function openerPolicy(name: 'DEMO_IDP_COOP' | 'DEMO_DESKTOP_COOP'): string | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (!COOP_VALUES.includes(value)) {
    refuse(
      new ConfigError(
        `${name} is "${value.slice(0, 60)}": use one of ${COOP_VALUES.join(', ')} (the Cross-Origin-Opener-Policy the demo's pages send), or leave it unset`,
      ),
    );
  }
  return value;
}
const crossOriginOpenerPolicy = { idp: openerPolicy('DEMO_IDP_COOP'), desktop: openerPolicy('DEMO_DESKTOP_COOP') };
const config = (() => {
  try {
    return loadConfig({ LANYARD_DATABASE_URL: 'sqlite:.lanyard/demo.db', LANYARD_LOG_LEVEL: 'warn', ...env });
  } catch (error) {
    return refuse(error);
  }
})();
const lanyard = await startLanyard(config).catch(refuse);
const demo = await startDemo({
  lanyard,
  host,
  idpPort: Number(env.DEMO_IDP_PORT ?? 4100),
  desktopPort: Number(env.DEMO_DESKTOP_PORT ?? 5173),
  crossOriginOpenerPolicy,
}).catch(async (error: unknown) => {
  await lanyard.close();
  return refuse(error);
});
const { account, connection } = demo.account;
const consoleKey = await issueDemoConsoleKey(lanyard.services);

// Set before the banner: a script that waits for it and signals at once gets a clean stop.
const stop = async () => {
  await Promise.allSettled([demo.close(), lanyard.close()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const line = '─'.repeat(64);
console.log(`
${line}
 Lanyard demo is running
${line}
 Agent desktop (enhanced SSO)  ${demo.desktop.url}/
 Agent desktop (legacy SSO)    ${demo.desktop.url}/legacy/
 Lanyard server                ${lanyard.url}
 Admin console                 ${lanyard.url}/console/
   admin key                   ${consoleKey.secret}
                               (paste it on the console's sign-in page; a new key at every
                               start, and the one the previous start printed is revoked)
 Development SAML IdP          ${demo.idp.url}   (demo only: never use in production)
${[
  crossOriginOpenerPolicy.idp && ` Cross-Origin-Opener-Policy    ${crossOriginOpenerPolicy.idp} on the IdP's pages (DEMO_IDP_COOP)\n`,
  crossOriginOpenerPolicy.desktop && ` Cross-Origin-Opener-Policy    ${crossOriginOpenerPolicy.desktop} on the desktop's pages (DEMO_DESKTOP_COOP)\n`,
]
  .filter(Boolean)
  .join('')}
 Account SID   ${account.sid}
 Connection    ${connection.sid}
 Lookup        ${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${account.sid}
 Database      ${databaseLabel(config.databaseUrl)}
${
  env.LANYARD_DATABASE_URL
    ? '   the CLI reads the same LANYARD_DATABASE_URL'
    : `   the CLI on it (the CLI's default is .lanyard/lanyard.db, \`lanyard serve\`'s database):\n   LANYARD_DATABASE_URL=${config.databaseUrl} npx lanyard accounts list`
}

 Test users (open the desktop, press "Sign in", pick one on the IdP's page):
${demo.idp.users.map((u) => `   ${u.id.padEnd(24)} ${u.full_name.padEnd(18)} ${u.roles.join(', ')}`).join('\n')}
${line}
 Press Ctrl+C to stop.
`);
