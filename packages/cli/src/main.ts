import { Command } from 'commander';
import { registerAccounts } from './commands/accounts.ts';
import { registerAppConfig } from './commands/appconfig.ts';
import { registerAdminKey } from './commands/admin-key.ts';
import { registerAuthConfig } from './commands/auth-config.ts';
import { registerIdentity } from './commands/identity.ts';
import { registerIdpInitiated } from './commands/idp-initiated.ts';
import { registerClients } from './commands/clients.ts';
import { registerMapping } from './commands/mapping.ts';
import { registerMode } from './commands/mode.ts';
import { registerRedirectUrl } from './commands/redirect-url.ts';
import { registerRoles } from './commands/roles.ts';
import { registerServe } from './commands/serve.ts';
import { registerSigningKeys } from './commands/signing-keys.ts';
import { registerSpKeys } from './commands/sp-keys.ts';
import { registerSso } from './commands/sso.ts';
import { registerStatus } from './commands/status.ts';
import { registerTestSignIn } from './commands/test-sign-in.ts';
import { registerToken } from './commands/token.ts';
import { registerTrustedUrls } from './commands/trusted-urls.ts';
import { registerUsers } from './commands/users.ts';
import { guardOutputStreams, reportFailure, writeUsageError } from './output.ts';
import { cliVersion, versionRequest } from './version.ts';

/**
 * `lanyard`: administers a Lanyard deployment by opening its database directly (LANYARD_DATABASE_URL,
 * LANYARD_SECRET_KEY…), so it works with or without a running server.
 */
const program = new Command('lanyard')
  .description('Self-hosted single sign-on for Flex-style agent desktops')
  .option('--json', "machine-readable output (the admin API's JSON shapes)")
  .configureHelp({ showGlobalOptions: true })
  // Usage errors as one line, like every other failure.
  .configureOutput({ outputError: writeUsageError })
  // Usage errors become exit code 2 (bad input) below; subcommands inherit this setting.
  .exitOverride();
program.addHelpText(
  'after',
  '\nConfiguration comes from LANYARD_* environment variables (LANYARD_DATABASE_URL, LANYARD_SECRET_KEY, LANYARD_PUBLIC_URL…).\n' +
    'Exit codes: 0 success, 1 failure, 2 bad input. LANYARD_DEBUG=1 prints stack traces.\n' +
    '`lanyard --version` (or -V) prints the version of this command; with --json as {"version": …}.',
);

for (const register of [
  registerServe,
  registerAccounts,
  registerSso,
  registerTrustedUrls,
  registerRedirectUrl,
  registerClients,
  registerAuthConfig,
  registerMode,
  registerIdpInitiated,
  registerIdentity,
  registerStatus,
  registerToken,
  registerAdminKey,
  registerSigningKeys,
  registerSpKeys,
  registerMapping,
  registerTestSignIn,
  registerRoles,
  registerUsers,
  registerAppConfig,
]) {
  register(program);
}

guardOutputStreams();
const version = versionRequest(process.argv.slice(2));
if (version) {
  const text = cliVersion();
  process.stdout.write(version.json ? `${JSON.stringify({ version: text })}\n` : `${text}\n`);
} else {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    process.exitCode = reportFailure(error);
  }
}
