import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '@lanyard/server/errors.ts';
import { parseWith } from '@lanyard/server/http/request-body.ts';
import { samlInput, schemas } from '@lanyard/server/admin/requests.ts';
import { publicUrlWarning } from '../public-url.ts';
import { action } from '../runtime.ts';
import { describeConnection } from './connection-description.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSso(program: Command): void {
  const sso = program.command('sso').description("the account's identity provider (SAML, or OpenID Connect with set-oidc)");
  registerSsoOidc(sso);
  sso
    .command('set')
    .description('set the IdP: --issuer, --sso-url and --cert; or --metadata <file>; or --metadata-url <url>')
    .argument('<AccountSid>', 'the account (AC…)')
    .option('--issuer <entityId>', "the IdP's entity ID")
    .option('--sso-url <url>', "the IdP's single sign-on URL")
    .addOption(
      new Option('--sso-binding <binding>', 'with --sso-url: how AuthnRequests reach the IdP (default redirect)').choices(['redirect', 'post']),
    )
    .option('--cert <file|PEM>', 'IdP signing certificate, a PEM file or the PEM text; repeat during a rollover', collect)
    .option('--metadata <file>', 'IdP metadata XML file')
    .option('--metadata-url <url>', 'IdP metadata URL')
    .option('--entity-id <entityId>', 'federation metadata (several entities): the entity ID of the IdP to use')
    .option('--sign-requests', 'sign AuthnRequests (default: when the IdP metadata asks, WantAuthnRequestsSigned)')
    .option('--no-sign-requests', 'do not sign AuthnRequests, whatever the metadata says')
    .option('--allow-rsa15', 'accept encrypted assertions whose key uses RSA PKCS#1 v1.5 (refused by default)')
    .addOption(new Option('--clock-skew <seconds>', 'allowed clock skew (default 120)').argParser(Number))
    .action(
      action(async ({ admin }, { args: [accountSid], options }) => {
        const certs = (options.cert as string[] | undefined)?.map((c) => readPem(c));
        const body = parseWith(schemas.sso, {
          issuer: options.issuer,
          sso_url: options.ssoUrl,
          certificates: certs,
          metadata_xml: options.metadata === undefined ? undefined : readText(options.metadata as string, 'metadata'),
          metadata_url: options.metadataUrl,
          clock_skew_seconds: options.clockSkew,
          entity_id: options.entityId,
          sso_binding: options.ssoBinding,
          sign_authn_requests: options.signRequests as boolean | undefined,
          allow_rsa15_key_transport: options.allowRsa15 === true ? true : undefined,
        });
        const { connection, replacedOidc } = await admin.saveSso(accountSid!, samlInput(body));
        const replaced = replacedOidc
          ? [
              `Replaced the OpenID Connect provider ${replacedOidc.issuer}` +
                (replacedOidc.clientSecretRemoved ? '; its client secret was removed.' : ' (a public client: no client secret was stored).'),
            ]
          : [];
        return { data: connection, text: [...replaced, describeConnection(connection)].join('\n') };
      }),
    );
}

/** What `set-oidc` did to the client secret, in words (never the secret). */
const SECRET_OUTCOME = {
  stored: 'Client secret: stored (encrypted).',
  kept: 'Client secret: kept (the one stored for this issuer and client ID).',
  removed: 'Client secret: REMOVED. The connection is now a public client (PKCE only).',
  none: 'Client secret: none. The connection is a public client (PKCE only); if the provider wants a secret, sign-ins fail with invalid_client until you give it with --client-secret-file.',
} as const;

export function registerSsoOidc(sso: Command): void {
  sso
    .command('set-oidc')
    .description('point the account at an OpenID Connect provider (checked by discovery first)')
    .argument('<AccountSid>', 'the account (AC…)')
    .requiredOption('--issuer <url>', "the provider's issuer URL")
    .requiredOption('--client-id <id>', 'the client registered at the provider for Lanyard')
    .option(
      '--client-secret-file <file>',
      'a file holding the client secret (or set LANYARD_OIDC_CLIENT_SECRET); stored encrypted. Omitted: the stored secret is kept for the same issuer and client ID',
    )
    .option('--public-client', 'the client has no secret (PKCE only): remove any stored secret')
    .option('--scopes <scopes>', 'scopes to request, "openid" among them (default: those stored for the same client, else "openid profile email")')
    .addHelpText(
      'after',
      `
Client secret: re-running set-oidc with the same issuer and client ID keeps the stored secret.
With a new issuer or client ID while a secret is stored, give the new client's secret or say
--public-client; set-oidc refuses otherwise, because the old secret belongs to the old client.`,
    )
    .action(
      action(async ({ admin, services }, { args: [accountSid], options }) => {
        // The secret never goes on the command line, where shell history and `ps` would keep it.
        // The variable is read only when neither a file nor --public-client says otherwise.
        const fromEnvironment = !options.clientSecretFile && options.publicClient !== true && Boolean(process.env.LANYARD_OIDC_CLIENT_SECRET);
        const secret = options.clientSecretFile
          ? readText(options.clientSecretFile as string, 'client secret').trim()
          : fromEnvironment
            ? process.env.LANYARD_OIDC_CLIENT_SECRET
            : undefined;
        // A secret file given empty is a failed export, not "keep the stored secret" (nor a public client).
        if (options.clientSecretFile && !secret) {
          throw new InvalidParameterError(
            `The client secret file "${String(options.clientSecretFile)}" is empty. Write the secret into it, or leave --client-secret-file out to keep the stored secret.`,
          );
        }
        const body = parseWith(schemas.oidc, {
          issuer: options.issuer,
          client_id: options.clientId,
          client_secret: secret || undefined,
          public_client: options.publicClient === true ? true : undefined,
          scopes: options.scopes,
        });
        const { connection, clientSecret } = await admin.saveOidc(accountSid!, body);
        return {
          data: connection,
          text: [
            // As stored (the issuer normalised, the scopes kept or replaced), not as typed.
            `Connection ${connection.sid} signs in through ${connection.oidc?.issuer ?? body.issuer} (client ID ${connection.oidc?.upstream_client_id ?? body.client_id}).`,
            `Scopes: ${connection.oidc?.scopes ?? body.scopes ?? ''}`,
            SECRET_OUTCOME[clientSecret],
            // A variable left in the shell from another account's set-up would otherwise go unnoticed.
            ...(fromEnvironment && clientSecret === 'stored'
              ? [
                  'The secret came from LANYARD_OIDC_CLIENT_SECRET; if it belongs to another client, unset it and run set-oidc again with --client-secret-file.',
                ]
              : []),
            `Register this redirect URI at the provider: ${services.config.publicUrl}/login/oidc/callback`,
            ...[publicUrlWarning(services.config.publicUrl)].filter((w) => w !== null),
          ].join('\n'),
        };
      }),
    );
}

/** `--cert` takes the PEM itself or a file holding it. */
function readPem(value: string): string {
  return value.includes('-----BEGIN') ? value : readText(value, 'certificate');
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidParameterError(`Cannot read the ${what} file "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}
