import { z } from 'zod';
import { clientSchemas } from './client-admin.ts';
import { arrayOf, dateTime, nullable, object, ref, sid, str, type Json } from './openapi-schemas.ts';

/** OpenAPI paths and schemas of client registration (kept beside openapi.ts, merged into it). */
function requestBody(schema: z.ZodType, required = true): Json {
  const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return { required, content: { 'application/json': { schema: jsonSchema } } };
}

const ok = (schema: Json, description = 'OK', status = '200') => ({
  [status]: { description, content: { 'application/json': { schema } } },
  400: { $ref: '#/components/responses/BadRequest' },
  401: { $ref: '#/components/responses/Unauthorized' },
  404: { $ref: '#/components/responses/NotFound' },
});
const accountParam = { name: 'sid', in: 'path', required: true, schema: sid('AC', 'Account SID') };
const clientParam = { name: 'client_id', in: 'path', required: true, schema: str('Client ID of a registered client (lc_…)') };
const secretParam = { name: 'secret_id', in: 'path', required: true, schema: str('Id of one of the client secrets') };

export const clientComponentSchemas: Record<string, Json> = {
  Client: object({
    client_id: str('lc_…; the client authenticates with it'),
    account_sid: sid('AC', 'Account SID'),
    connection_sid: sid('JQ', "The connection whose IdP signs the client's users in"),
    name: str(),
    token_endpoint_auth_method: { type: 'string', enum: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] },
    redirect_uris: arrayOf(str()),
    jwks: nullable({ type: 'object', description: 'Public keys for private_key_jwt' }),
    id_token_signed_response_alg: { type: 'string', enum: ['RS256', 'ES256'] },
    secrets: arrayOf(object({ id: str(), created_at: dateTime(), expires_at: nullable(dateTime('The previous secret stops working then')) })),
    created_at: dateTime(),
  }),
  ClientWithSecret: {
    allOf: [ref('Client'), object({ client_secret: str('Shown once; store it now (Lanyard keeps only a hash)') })],
  },
};

export const clientPaths: Record<string, Record<string, Json>> = {
  '/admin/v1/accounts/{sid}/clients': {
    get: {
      operationId: 'listClients',
      summary: 'List the OpenID Connect clients of an account',
      responses: ok(object({ clients: arrayOf(ref('Client')) })),
      parameters: [accountParam],
    },
    post: {
      operationId: 'registerClient',
      summary: 'Register an OpenID Connect client; a client_secret_basic/post client gets its secret once in client_secret',
      responses: ok(ref('ClientWithSecret'), 'Created', '201'),
      parameters: [accountParam],
      requestBody: requestBody(clientSchemas.register),
    },
  },
  '/admin/v1/clients/{client_id}': {
    get: {
      operationId: 'getClient',
      summary: "Get a client (secrets as ids and expiries only); a connection's built-in client by its client ID too",
      responses: ok(ref('Client')),
      parameters: [clientParam],
    },
    patch: {
      operationId: 'updateClient',
      summary: "Change name, redirect URIs, keys or ID token algorithm; a connection's built-in client: redirect_uris only",
      responses: ok(ref('Client')),
      parameters: [clientParam],
      requestBody: requestBody(clientSchemas.update),
    },
    delete: {
      operationId: 'deleteClient',
      summary: 'Delete a client',
      responses: ok(object({ client_id: str(), deleted: { type: 'boolean' } })),
      parameters: [clientParam],
    },
  },
  '/admin/v1/clients/{client_id}/secrets': {
    post: {
      operationId: 'rotateClientSecret',
      summary: 'Issue a new secret; the previous one keeps working for rollover_seconds (default 7 days) so deployments switch without downtime',
      responses: ok({ allOf: [ref('ClientWithSecret'), object({ secret_id: str() })] }, 'Created', '201'),
      parameters: [clientParam],
      requestBody: requestBody(clientSchemas.rotate, false),
    },
  },
  '/admin/v1/clients/{client_id}/secrets/{secret_id}': {
    delete: {
      operationId: 'revokeClientSecret',
      summary: 'End a secret now (e.g. the previous one once every deployment uses the new one)',
      responses: ok(ref('Client')),
      parameters: [clientParam, secretParam],
    },
  },
};
