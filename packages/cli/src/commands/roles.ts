import type { Command } from 'commander';
import { parseWith } from '@lanyard/server/http/request-body.ts';
import { schemas } from '@lanyard/server/admin/requests.ts';
import { action } from '../runtime.ts';

/** The account's declared roles: recognised at sign-in beside admin, supervisor and agent. */
export function registerRoles(program: Command): void {
  const roles = program
    .command('roles')
    .description("the account's own roles (e.g. Flex Insights wfo.*), recognised beside admin, supervisor, agent");
  roles
    .command('set')
    .description('replace the declared roles; role values neither recognised nor mapped are dropped at sign-in')
    .argument('<AccountSid>')
    .argument('[roles]', 'comma-separated, e.g. wfo.full_access,wfo.team_leader (omit or "" to clear them)')
    .action(
      action(async ({ admin }, { args: [sid, roleList] }) => {
        const list = (roleList ?? '')
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
        const body = parseWith(schemas.declaredRoles, { roles: list });
        const account = await admin.setDeclaredRoles(sid!, body.roles);
        const declared = account.declared_roles.length > 0 ? account.declared_roles.join(', ') : '(none)';
        return { data: account, text: `Roles of ${account.sid}: admin, supervisor, agent; declared: ${declared}` };
      }),
    );
}
