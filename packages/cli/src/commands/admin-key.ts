import type { Command } from 'commander';
import { fields, table } from '../output.ts';
import { action } from '../runtime.ts';

/** Admin API keys (`Authorization: Bearer lk_…`). */
export function registerAdminKey(program: Command): void {
  const keys = program.command('admin-key').description('admin API keys');
  keys
    .command('create')
    .description('create an admin API key; the secret is shown once')
    .option('--name <name>', 'what the key is for', 'admin key')
    .action(
      action(async ({ admin }, { options }) => {
        const key = await admin.createAdminKey(options.name as string);
        return {
          data: key,
          text: [
            `Created admin key ${key.sid} "${key.name}"`,
            fields([['secret', `${key.secret}  (shown once: store it now)`]]),
            '',
            'Use it as: Authorization: Bearer <secret>',
          ].join('\n'),
        };
      }),
    );
  keys
    .command('list')
    .description('list admin API keys (never their secrets)')
    .action(
      action(async ({ admin }) => {
        const result = await admin.listAdminKeys();
        const rows = result.admin_keys.map((k) => [k.sid, k.created_at ?? '', k.last_used_at ?? 'never', k.name]);
        return {
          data: result,
          text: rows.length === 0 ? 'No admin keys (lanyard admin-key create).' : table(rows, ['SID', 'CREATED', 'LAST USED', 'NAME']),
        };
      }),
    );
  keys
    .command('revoke')
    .description('revoke an admin API key')
    .argument('<AdminKeySid>', 'the key (SK…)')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const result = await admin.revokeAdminKey(sid!);
        return { data: result, text: `Revoked admin key ${result.sid}.` };
      }),
    );
}
