import type { Command } from 'commander';
import { action } from '../runtime.ts';

/** The Default (Domain) redirect URL: where IdP-initiated logins land; enhanced SSO needs it. */
export function registerRedirectUrl(program: Command): void {
  const redirect = program.command('redirect-url').description("the account's Default (Domain) redirect URL");
  redirect
    .command('set')
    .description('set the Default redirect URL')
    .argument('<AccountSid>')
    .argument('<url>')
    .action(
      action(async ({ admin }, { args: [sid, url] }) => {
        const account = await admin.setRedirectUrl(sid!, url!);
        return { data: account, text: `Default redirect URL of ${account.sid}: ${account.default_redirect_url}` };
      }),
    );
  redirect
    .command('clear')
    .description('remove the Default redirect URL')
    .argument('<AccountSid>')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const account = await admin.setRedirectUrl(sid!, null);
        return { data: account, text: `Default redirect URL of ${account.sid} cleared.` };
      }),
    );
}
