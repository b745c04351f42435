import { loadConfig, startLanyard } from '@lanyard/server';
import { startDevIdp } from './dev-idp/index.ts';
import { startDesktopServer } from './desktop-server.ts';
import { ensureDemoAccount } from './demo-account.ts';

/**
 * The demo: everything a newcomer needs to see an agent sign in, on loopback. The development
 * IdP exists only here; the production entry point (`lanyard serve`) never starts it.
 */
const env = process.env;
const host = env.LANYARD_HOST ?? '127.0.0.1';
const idpPort = Number(env.DEMO_IDP_PORT ?? 4100);
const desktopPort = Number(env.DEMO_DESKTOP_PORT ?? 5173);

const config = loadConfig({ LANYARD_DATABASE_URL: 'sqlite:.lanyard/demo.db', LANYARD_LOG_LEVEL: 'warn', ...env });
const idp = await startDevIdp({ port: idpPort, host });
const lanyard = await startLanyard(config);
const desktopOrigin = `http://${host}:${desktopPort}`;
const demo = await ensureDemoAccount(lanyard.services, idp, desktopOrigin);
const desktop = await startDesktopServer({ host, port: desktopPort, lanyardUrl: lanyard.url, demo });
// A fresh admin key for the console at every start; the previous demo keys stop working.
for (const key of await lanyard.services.adminKeys.list()) if (key.name === 'demo console') await lanyard.services.adminKeys.revoke(key.sid);
const consoleKey = (await lanyard.services.adminKeys.create('demo console')).secret;

const line = '─'.repeat(64);
console.log(`
${line}
 Lanyard demo is running
${line}
 Agent desktop (enhanced SSO)  ${desktop.url}/
 Agent desktop (legacy SSO)    ${desktop.url}/legacy/
 Lanyard server                ${lanyard.url}
 Development SAML IdP          ${idp.url}   (demo only: never use in production)
 Admin console                 ${lanyard.url}/console/
   admin key (this run only)   ${consoleKey}

 Account SID   ${demo.account.sid}
 Connection    ${demo.connection.sid}
 Lookup        ${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${demo.account.sid}

 Test users (pick one on the IdP's sign-in page):
${idp.users.map((u) => `   ${u.id.padEnd(24)} ${u.full_name.padEnd(18)} ${u.roles.join(', ')}`).join('\n')}
${line}
 Press Ctrl+C to stop.
`);

const stop = async () => {
  await Promise.allSettled([desktop.close(), lanyard.close(), idp.close()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
