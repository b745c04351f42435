import { Argument, type Command } from 'commander';
import type { AdminService } from '@lanyard/server/admin/admin-service.ts';
import { table } from '../output.ts';
import { action } from '../runtime.ts';

type SpKeys = Awaited<ReturnType<AdminService['listSpKeys']>>;

const describe = ({ connection_sid, keys }: SpKeys) =>
  [
    `SAML SP keys of connection ${connection_sid} (both keys of a use are in the SP metadata):`,
    table(
      keys.map((k) => [k.use, String(k.generation), k.current ? 'current' : 'previous (retire once the IdP has the new one)', k.created_at]),
      ['USE', 'GENERATION', 'STATE', 'CREATED'],
    ),
  ].join('\n');

const use = () => new Argument('<use>', 'signing (AuthnRequests) or encryption (assertions)').choices(['signing', 'encryption']);

/** The service-provider keys a SAML connection signs AuthnRequests with and receives encrypted assertions on. */
export function registerSpKeys(program: Command): void {
  const keys = program.command('sp-keys').description("a SAML connection's service-provider keys (signing, encryption)");
  keys
    .command('list')
    .argument('<ConnectionSid>')
    .description('list the keys (created on first use)')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const result = await admin.listSpKeys(sid!);
        return { data: result, text: describe(result) };
      }),
    );
  keys
    .command('rollover')
    .argument('<ConnectionSid>')
    .addArgument(use())
    .description('add a new key; the old one stays published (and still decrypts) until retired')
    .action(
      action(async ({ admin }, { args: [sid, which] }) => {
        const result = await admin.changeSpKeys(sid!, which as 'signing' | 'encryption', 'rollover');
        return { data: result, text: `${describe(result)}\nGive the IdP the new SP metadata, then: lanyard sp-keys retire ${sid} ${which}` };
      }),
    );
  keys
    .command('retire')
    .argument('<ConnectionSid>')
    .addArgument(use())
    .description('remove the older key once the IdP uses the new certificate')
    .action(
      action(async ({ admin }, { args: [sid, which] }) => {
        const result = await admin.changeSpKeys(sid!, which as 'signing' | 'encryption', 'retire');
        return { data: result, text: describe(result) };
      }),
    );
}
