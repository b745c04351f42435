import type { Command } from 'commander';
import { table } from '../output.ts';
import { action } from '../runtime.ts';
import { registerUserRepairs } from './identity.ts';

/** User lifecycle: find users, disable them (their tokens stop at once), end their sessions. */
export function registerUsers(program: Command): void {
  const users = program.command('users').description('users provisioned at sign-in');
  users
    .command('list')
    .description("list an account's users")
    .argument('<AccountSid>')
    .option('--search <text>', 'match unique id, name, email or SID')
    .action(
      action(async ({ admin }, { args: [sid], options }) => {
        const result = await admin.listUsers(sid!, options.search as string | undefined);
        const rows = result.users.map((u) => [
          u.sid,
          u.unique_id,
          u.full_name,
          u.roles.join(','),
          u.disabled ? 'disabled' : 'active',
          u.last_login_at ?? '',
        ]);
        return {
          data: result,
          text: rows.length ? table(rows, ['user SID', 'unique id', 'name', 'roles', 'state', 'last sign-in']) : 'No users yet.',
        };
      }),
    );
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(name)
      .description(disabled ? 'disable a user: tokens stop validating and refreshing at once' : 'enable a user again')
      .argument('<UserSid>')
      .action(
        action(async ({ admin }, { args: [sid] }) => {
          const user = await admin.setUserDisabled(sid!, disabled);
          return { data: user, text: `${user.unique_id} (${user.sid}) is ${user.disabled ? 'disabled' : 'enabled'}.` };
        }),
      );
  }
  registerUserRepairs(users);
  users
    .command('revoke-sessions')
    .description('end every session of a user (they must sign in again)')
    .argument('<UserSid>')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const result = await admin.revokeUserSessions(sid!);
        return { data: result, text: `Revoked ${result.revoked_sessions} session(s) of ${sid}.` };
      }),
    );
}
