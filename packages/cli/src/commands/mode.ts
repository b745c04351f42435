import { Argument, type Command } from 'commander';
import { action } from '../runtime.ts';

export function registerMode(program: Command): void {
  program
    .command('mode')
    .description("the account's SSO mode")
    .command('set')
    .description('switch between legacy, enhanced, or both')
    .argument('<AccountSid>')
    .addArgument(new Argument('<mode>').choices(['legacy', 'enhanced', 'both']))
    .option('--force', 'switch back to the previous mode after the 30-day grace period')
    .action(
      action(async ({ admin }, { args: [sid, mode], options }) => {
        const account = await admin.setMode(sid!, mode as 'legacy' | 'enhanced' | 'both', options.force === true);
        const revert = account.mode_revert_deadline
          ? ` (back to ${account.previous_mode} without --force until ${account.mode_revert_deadline})`
          : '';
        return { data: account, text: `SSO mode of ${account.sid}: ${account.sso_mode}${revert}` };
      }),
    );
}
