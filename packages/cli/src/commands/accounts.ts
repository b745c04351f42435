import type { Command } from 'commander';
import { fields, table } from '../output.ts';
import { action } from '../runtime.ts';

export function registerAccounts(program: Command): void {
  const accounts = program.command('accounts').description("create and list accounts, replace an account's auth token");

  accounts
    .command('create')
    .description('create an account; its auth token is shown once')
    .option('--name <name>', 'friendly name', 'Lanyard account')
    .action(
      action(async ({ admin }, { options }) => {
        const created = await admin.createAccount(options.name as string);
        return {
          data: created,
          text: [
            `Created account ${created.sid} "${created.friendly_name}"`,
            fields([
              ['instance SID', created.instance_sid],
              ['SSO mode', created.sso_mode],
              ['auth token', `${created.auth_token}  (shown once: store it now)`],
            ]),
            '',
            'Next: set the identity provider, one of',
            `  lanyard sso set ${created.sid} --metadata-url <IdP metadata URL>   (a SAML IdP; or --metadata <file>)`,
            `  lanyard sso set ${created.sid} --issuer <IdP entity ID> --sso-url <IdP SSO URL> --cert <cert.pem>   (a SAML IdP without metadata)`,
            `  lanyard sso set-oidc ${created.sid} --issuer <issuer URL> --client-id <client ID> --client-secret-file <file>   (an OpenID Connect provider)`,
            'then',
            `  lanyard trusted-urls add ${created.sid} https://desktop.example.com/`,
            `  lanyard redirect-url set ${created.sid} https://desktop.example.com/`,
          ].join('\n'),
        };
      }),
    );

  accounts
    .command('rotate-auth-token')
    .description("replace an account's auth token (Basic auth of Tokens/validate); the new one is shown once, the previous one stops working at once")
    .argument('<AccountSid>')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const rotated = await admin.rotateAuthToken(sid!);
        return {
          data: rotated,
          text: [
            `Replaced the auth token of account ${rotated.account_sid}; the previous one no longer works.`,
            fields([['auth token', `${rotated.auth_token}  (shown once: store it now)`]]),
            '',
            'Backends validating tokens with POST /v1/Accounts/{AccountSid}/Tokens/validate send it as the Basic auth password.',
          ].join('\n'),
        };
      }),
    );

  accounts
    .command('list')
    .description('list accounts')
    .action(
      action(async ({ admin }) => {
        const { accounts: all } = await admin.listAccounts();
        return {
          data: { accounts: all },
          text:
            all.length === 0
              ? 'No accounts yet (lanyard accounts create).'
              : table(
                  all.map((a) => [a.sid, a.sso_mode, a.friendly_name]),
                  ['SID', 'MODE', 'NAME'],
                ),
        };
      }),
    );
}
