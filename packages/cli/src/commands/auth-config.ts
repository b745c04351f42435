import type { Command } from 'commander';
import { action } from '../runtime.ts';

/** Prints exactly what `GET /v1/Flex/Authentication/Config?AccountSid=…` answers (both output modes). */
export function registerAuthConfig(program: Command): void {
  program
    .command('auth-config')
    .description('print what the public lookup (/v1/Flex/Authentication/Config) returns for an account')
    .argument('<AccountSid>')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const config = await admin.authConfig(sid!);
        return { data: config, text: JSON.stringify(config, null, 2) };
      }),
    );
}
