import type { Command } from 'commander';
import { IdentityAdmin } from '@lanyard/server/admin/identity-admin.ts';
import { InvalidParameterError } from '@lanyard/server/errors.ts';
import { parseWith } from '@lanyard/server/http/request-body.ts';
import { schemas } from '@lanyard/server/admin/requests.ts';
import { action, operator, type CommandContext } from '../runtime.ts';

const identityAdmin = ({ services }: CommandContext) => new IdentityAdmin(services, { surface: 'cli', name: `cli (${operator()})` });

/** Who is who: the unique-id policy of a connection, and repairs of duplicate or re-identified users. */
export function registerIdentity(program: Command): void {
  program
    .command('identity')
    .description('which IdP value identifies a user of a connection')
    .command('set')
    .argument('<ConnectionSid>')
    .option('--attribute <name>', 'take the unique id from this attribute (SAML) or claim (OIDC)')
    .option('--name-id', 'take it from the NameID (SAML) or sub (OIDC) again; transient NameIDs are refused')
    .option('--case-sensitive-email', 'e-mail-form ids in another letter case are different users (default: the same user)')
    .option('--case-insensitive-email', 'e-mail-form ids match whatever their letter case (the default)')
    .description('set the unique-id policy')
    .action(
      action(async (context, { args: [sid], options }) => {
        if (options.caseSensitiveEmail && options.caseInsensitiveEmail)
          throw new InvalidParameterError('--case-sensitive-email and --case-insensitive-email contradict each other: give one of them.');
        if (options.nameId && options.attribute !== undefined)
          throw new InvalidParameterError('--name-id and --attribute contradict each other: give one of them.');
        const body = parseWith(schemas.uniqueIdPolicy, {
          attribute: options.nameId ? null : options.attribute,
          case_insensitive_email: options.caseSensitiveEmail ? false : options.caseInsensitiveEmail ? true : undefined,
        });
        const connection = await identityAdmin(context).setUniqueIdPolicy(sid!, body);
        const { attribute, case_insensitive_email } = connection.unique_id;
        return {
          data: connection,
          text: `Users of ${connection.sid} are identified by ${attribute ? `the attribute "${attribute}"` : 'the NameID / sub'}; e-mail ids ${case_insensitive_email ? 'ignore' : 'respect'} letter case.`,
        };
      }),
    );
}

export function registerUserRepairs(users: Command): void {
  users
    .command('relink')
    .description('point a user at the unique id the IdP now sends (after a NameID change at the IdP)')
    .argument('<UserSid>')
    .argument('<uniqueId>')
    .action(
      action(async (context, { args: [sid, uniqueId] }) => {
        const body = parseWith(schemas.relinkUser, { unique_id: uniqueId });
        const user = await identityAdmin(context).relinkUser(sid!, body.unique_id);
        return { data: user, text: `${user.sid} now signs in as "${user.unique_id}".` };
      }),
    );
  users
    .command('merge')
    .description('merge a duplicate user into the one to keep: the duplicate is removed and its sessions end')
    .argument('<DuplicateUserSid>')
    .argument('<KeepUserSid>')
    .option('--keep-unique-id', "keep the kept user's unique id instead of taking the duplicate's")
    .action(
      action(async (context, { args: [from, into], options }) => {
        const result = await identityAdmin(context).mergeUsers(from!, into!, options.keepUniqueId !== true);
        return {
          data: result,
          text: `Merged ${from} into ${into} (${result.revoked_sessions} session(s) ended); ${into} signs in as "${result.user.unique_id}".`,
        };
      }),
    );
}
