import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '@lanyard/server/errors.ts';
import { parseWith } from '@lanyard/server/http/request-body.ts';
import { schemas } from '@lanyard/server/admin/requests.ts';
import { quoteList } from '@lanyard/server/connections/profile-mapping.ts';
import { EXIT, fields } from '../output.ts';
import { action } from '../runtime.ts';

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Attribute and role mapping of a connection (SAML attributes or OIDC claims alike). */
export function registerMapping(program: Command): void {
  const mapping = program.command('mapping').description("a connection's attribute and role mapping");
  mapping
    .command('set')
    .description('set which attributes give full_name, email, roles, image_url, and IdP role values → roles')
    .argument('<ConnectionSid>', 'the connection (JQ…)')
    .option('--full-name <names>', 'attribute names, comma-separated, tried in order', list)
    .option('--email <names>', 'attribute names, comma-separated, tried in order', list)
    .option('--roles <names>', 'attribute names whose values are roles', list)
    .option('--image-url <names>', 'attribute names, comma-separated', list)
    .option('--role-value <idpValue=role>', 'map an IdP value to a role, e.g. cc-supervisors=supervisor (repeatable)', collect)
    .action(
      action(async ({ admin }, { args: [sid], options }) => {
        const roleValues = (options.roleValue as string[] | undefined)?.map((pair) => {
          const eq = pair.indexOf('=');
          if (eq <= 0 || eq === pair.length - 1) throw new InvalidParameterError(`--role-value "${pair}" must look like idpValue=role.`);
          return [pair.slice(0, eq), pair.slice(eq + 1)] as const;
        });
        const body = parseWith(schemas.mapping, {
          full_name: options.fullName,
          email: options.email,
          roles: options.roles,
          image_url: options.imageUrl,
          role_values: roleValues ? Object.fromEntries(roleValues) : undefined,
        });
        const connection = await admin.setMapping(sid!, body);
        return { data: connection, text: `Mapping of ${connection.sid} updated.` };
      }),
    );
  mapping
    .command('show')
    .description('show which attributes give full_name, email, roles, image_url, and the role values mapped')
    .argument('<ConnectionSid>', 'the connection (JQ…)')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const { mapping: shown } = await admin.getConnection(sid!);
        const names = (value: string[] | undefined) => (value?.length ? value.join(', ') : '(default)');
        const roleValues = Object.entries(shown.role_values ?? {});
        const text = fields([
          ['full_name', names(shown.full_name)],
          ['email', names(shown.email)],
          ['roles', names(shown.roles)],
          ['image_url', names(shown.image_url)],
          ['role values', roleValues.length ? roleValues.map(([idp, role]) => `${idp}=${role}`).join(', ') : '(none)'],
        ]);
        return { data: shown, text };
      }),
    );
  mapping
    .command('dry-run')
    .description('show the profile a set of attributes or claims would produce, without signing anyone in (exit 1 when the sign-in would fail)')
    .argument('<ConnectionSid>', 'the connection (JQ…)')
    .option('--name-id <id>', 'the unique id: the SAML NameID (required for SAML); for OpenID Connect, default the "sub" claim of the file')
    .requiredOption('--attributes <file>', 'JSON file: {"attribute": "value" | ["values"]} (OpenID Connect: the claims, "sub" among them)')
    .action(
      action(async ({ admin }, { args: [sid], options }) => {
        let attributes: unknown;
        try {
          attributes = JSON.parse(readFileSync(options.attributes as string, 'utf8'));
        } catch (error) {
          throw new InvalidParameterError(`--attributes must be a readable JSON file (${(error as Error).message}).`);
        }
        const result = await admin.dryRunMapping(
          sid!,
          parseWith(schemas.mappingDryRun, { name_id: options.nameId, attributes }, { allowUnstorableText: true }),
        );
        const dropped: Array<[string, string]> = result.dropped_roles.length
          ? [['dropped roles', `${quoteList(result.dropped_roles)} (not recognised, not mapped)`]]
          : [];
        const text =
          result.ok && result.profile
            ? fields([
                ['identity', result.profile.identity],
                ['full_name', result.profile.full_name],
                ['email', result.profile.email],
                ['roles', result.profile.roles.join(', ')],
                ...dropped,
              ])
            : [
                `Sign-in would fail: ${result.error?.message} (code ${result.error?.code})`,
                fields([
                  ...result.missing.map((m): [string, string] => [`${m.attribute} looked for`, m.looked_for.map((n) => `"${n}"`).join(', ')]),
                  ['received', result.received.length ? result.received.map((n) => `"${n}"`).join(', ') : '(no attributes at all)'],
                  ...dropped,
                ]),
              ].join('\n');
        // Exit 1 when the verdict is negative, as `lanyard token verify` does for an invalid token.
        return { data: result, text, exitCode: result.ok ? EXIT.ok : EXIT.failure };
      }),
    );
}
