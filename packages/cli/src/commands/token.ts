import type { Command } from 'commander';
import { fields } from '../output.ts';
import { action } from '../runtime.ts';

export function registerToken(program: Command): void {
  const token = program.command('token').description('inspect tokens');
  token
    .command('verify')
    .description('validate an access token (signature, expiry, session, user) and show its claims; exit 1 when invalid')
    .argument('<token>')
    .option('--account <AccountSid>', 'also require the token to belong to this account')
    .action(
      action(async ({ admin }, { args: [value], options }) => {
        const result = await admin.verifyToken(value!, options.account as string | undefined);
        const claims = result.claims;
        const text = [
          result.valid ? 'Token is valid.' : `Token is NOT valid: ${result.message} (code ${result.code})`,
          ...(claims
            ? [
                fields([
                  ['account', claims.account_sid],
                  ['user', `${claims.sub} (${claims.name_id})`],
                  ['identity', claims.identity],
                  ['roles', claims.roles.join(', ')],
                  ['worker', claims.worker_sid],
                  ['expires', result.expires_at],
                  [
                    'session',
                    result.session
                      ? `${result.session.id} (${result.session.active === null ? 'state unknown' : result.session.active ? 'active' : 'revoked'})`
                      : null,
                  ],
                  ['user state', result.user ? (result.user.disabled ? 'disabled' : result.user.exists ? 'enabled' : 'deleted') : null],
                ]),
              ]
            : []),
        ].join('\n');
        return { data: result, text, exitCode: result.valid ? 0 : 1 };
      }),
    );
}
