import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { clientResource } from '@lanyard/server/admin/client-admin.ts';
import { InvalidParameterError } from '@lanyard/server/errors.ts';
import { parseWith } from '@lanyard/server/http/request-body.ts';
import { action, operator, type CommandContext } from '../runtime.ts';

type Client = ReturnType<typeof clientResource> & { client_secret?: string; secret_id?: string };

/** Loaded on demand (it pulls in the token core's keys and jose): `--help` needs none of it. */
const server = async () => {
  const { ClientAdmin, clientSchemas } = await import('@lanyard/server/admin/client-admin.ts');
  return { ClientAdmin, clientSchemas, parseWith };
};
const clientAdmin = async ({ services }: CommandContext) =>
  new (await server()).ClientAdmin(services, { surface: 'cli', name: `cli (${operator()})` });
const collect = (value: string, previous: string[] = []) => [...previous, value];

async function readJwks(file: unknown): Promise<{ keys: Record<string, unknown>[] } | undefined> {
  if (typeof file !== 'string') return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { keys: Record<string, unknown>[] };
  } catch (error) {
    throw new InvalidParameterError(`--jwks-file: ${file} is not a readable JSON Web Key Set (${(error as Error).message}).`);
  }
}

function describe(client: Client): string {
  const lines = [
    `${client.client_id}  ${client.name}`,
    `  authentication: ${client.token_endpoint_auth_method}; ID tokens ${client.id_token_signed_response_alg}; connection ${client.connection_sid}`,
    ...client.redirect_uris.map((uri) => `  redirect URI: ${uri}`),
    ...client.secrets.map((s) => `  secret ${s.id}: created ${s.created_at}${s.expires_at ? `, ends ${s.expires_at}` : ''}`),
  ];
  if (client.client_secret) {
    lines.push('', `client_secret: ${client.client_secret}`, 'Store it now: it is shown only this once (Lanyard keeps a hash).');
  }
  return lines.join('\n');
}

/** OpenID Connect clients of the standard surface: registration, redirect URIs, secrets. */
export function registerClients(program: Command): void {
  const clients = program.command('clients').description('OpenID Connect clients (web apps with a secret or key, SPAs and native apps with PKCE)');
  clients
    .command('register')
    .description('register a client; a client_secret_* client gets its secret printed once')
    .argument('<AccountSid>')
    .requiredOption('--redirect-uri <uri>', 'an exact redirect URI (repeat for several)', collect)
    .option('--name <name>', 'a name for people')
    .option('--auth-method <method>', 'client_secret_basic (default), client_secret_post, private_key_jwt, or none (public: SPA, native app)')
    .option('--jwks-file <file>', "the client's public keys (JWK Set JSON) for private_key_jwt")
    .option('--id-token-alg <alg>', 'RS256 (default) or ES256')
    .option('--connection <JQ…>', "the connection to sign users in with (default: the account's)")
    .action(
      action(async (context, { args: [sid], options }) => {
        const { parseWith, clientSchemas } = await server();
        const body = parseWith(clientSchemas.register, {
          name: options.name,
          connection_sid: options.connection,
          token_endpoint_auth_method: options.authMethod,
          redirect_uris: options.redirectUri,
          jwks: await readJwks(options.jwksFile),
          id_token_signed_response_alg: options.idTokenAlg,
        });
        const client = await (await clientAdmin(context)).register(sid!, body);
        return { data: client, text: describe(client) };
      }),
    );
  clients
    .command('list')
    .description("list an account's clients")
    .argument('<AccountSid>')
    .action(
      action(async (context, { args: [sid] }) => {
        const result = await (await clientAdmin(context)).list(sid!);
        return {
          data: result,
          text:
            result.clients.length === 0
              ? 'No clients (lanyard clients register <AccountSid> --redirect-uri …).'
              : result.clients.map(describe).join('\n\n'),
        };
      }),
    );
  clients
    .command('show')
    .description("show a client (a registered one, or a connection's built-in client by its client ID)")
    .argument('<client_id>')
    .action(action(async (context, { args: [id] }) => output(await (await clientAdmin(context)).get(id!))));
  clients
    .command('update')
    .description(
      "change a client's redirect URIs (the whole list), name, keys or ID token algorithm; a connection's built-in client (the client_id lanyard sso set prints): redirect URIs only",
    )
    .argument('<client_id>')
    .option('--redirect-uri <uri>', 'an exact redirect URI (repeat for several; replaces the list)', collect)
    .option('--name <name>', 'a name for people')
    .option('--jwks-file <file>', 'new public keys (JWK Set JSON) for private_key_jwt')
    .option('--id-token-alg <alg>', 'RS256 or ES256')
    .action(
      action(async (context, { args: [id], options }) => {
        const { parseWith, clientSchemas } = await server();
        const body = parseWith(clientSchemas.update, {
          name: options.name,
          redirect_uris: options.redirectUri,
          jwks: await readJwks(options.jwksFile),
          id_token_signed_response_alg: options.idTokenAlg,
        });
        return output(await (await clientAdmin(context)).update(id!, body));
      }),
    );
  clients
    .command('rotate-secret')
    .description('issue a new secret; the previous one keeps working during the rollover')
    .argument('<client_id>')
    .option('--rollover <seconds>', 'how long the previous secret keeps working (default 604800, 7 days; 0 ends it now)')
    .action(
      action(async (context, { args: [id], options }) => {
        const rollover = options.rollover === undefined ? undefined : Number(options.rollover);
        const { parseWith, clientSchemas } = await server();
        return output(await (await clientAdmin(context)).rotateSecret(id!, parseWith(clientSchemas.rotate, { rollover_seconds: rollover })));
      }),
    );
  clients
    .command('revoke-secret')
    .description('end one secret now (the previous one, once every deployment has the new one)')
    .argument('<client_id>')
    .argument('<secret_id>')
    .action(action(async (context, { args: [id, secretId] }) => output(await (await clientAdmin(context)).revokeSecret(id!, secretId!))));
  clients
    .command('delete')
    .description('delete a client')
    .argument('<client_id>')
    .action(
      action(async (context, { args: [id] }) => {
        const result = await (await clientAdmin(context)).remove(id!);
        return { data: result, text: `Client ${result.client_id} deleted.` };
      }),
    );
}

function output(client: Client) {
  return { data: client, text: describe(client) };
}
