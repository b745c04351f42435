import type { Command } from 'commander';
import type { signingKeyResource } from '@lanyard/server/admin/resources.ts';
import { table } from '../output.ts';
import { action } from '../runtime.ts';

type Keys = { keys: Array<ReturnType<typeof signingKeyResource>> };

const describe = ({ keys }: Keys) =>
  table(
    keys.map((k) => [k.kid, k.alg, k.active ? 'signing' : `retired ${k.retired_at}`, k.created_at ?? '']),
    ['KID', 'ALG', 'STATE', 'CREATED'],
  );

/** Token signing keys. Running servers pick up a rotation within 30 seconds. */
export function registerSigningKeys(program: Command): void {
  const keys = program.command('signing-keys').description('token signing keys');
  keys
    .command('list')
    .description('list signing keys')
    .action(
      action(async ({ admin }) => {
        const result = await admin.listSigningKeys();
        return { data: result, text: describe(result) };
      }),
    );
  keys
    .command('rotate')
    .description('start signing with a new key; old keys keep verifying until their tokens expire')
    .action(
      action(async ({ admin }) => {
        const result = await admin.rotateSigningKeys();
        return { data: result, text: `New signing key ${result.kid}.\n${describe(result)}` };
      }),
    );
}
