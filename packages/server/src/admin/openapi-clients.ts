import { z } from 'zod';
import { clientSchemas } from './client-admin.ts';
import { jsonSchema, ref, type Json } from './openapi-schemas.ts';
import { ClientDeleted, ClientList, ClientSecretRotated, sid } from './responses.ts';

/** OpenAPI paths and schemas of client registration (kept beside openapi.ts, merged into it). */
function requestBody(schema: z.ZodType, required = true): Json {
  const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return { required, content: { 'application/json': { schema: jsonSchema } } };
}

const ok = (schema: z.ZodType | Json, description = 'OK', status = '200') => ({
  [status]: { description, content: { 'application/json': { schema: schema instanceof z.ZodType ? jsonSchema(schema) : schema } } },
  400: { $ref: '#/components/responses/BadRequest' },
  401: { $ref: '#/components/responses/Unauthorized' },
  404: { $ref: '#/components/responses/NotFound' },
});
const accountParam = { name: 'sid', in: 'path', required: true, schema: jsonSchema(sid('AC', 'Account SID')) };
const clientParam = {
  name: 'client_id',
  in: 'path',
  required: true,
  schema: jsonSchema(z.string().describe('Client ID of a registered client (lc_…)')),
};
const secretParam = { name: 'secret_id', in: 'path', required: true, schema: jsonSchema(z.string().describe('Id of one of the client secrets')) };

export const clientPaths: Record<string, Record<string, Json>> = {
  '/admin/v1/accounts/{sid}/clients': {
    get: {
      operationId: 'listClients',
      summary: 'List the OpenID Connect clients of an account',
      responses: ok(ClientList),
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
      responses: ok(ClientDeleted),
      parameters: [clientParam],
    },
  },
  '/admin/v1/clients/{client_id}/secrets': {
    post: {
      operationId: 'rotateClientSecret',
      summary: 'Issue a new secret; the previous one keeps working for rollover_seconds (default 7 days) so deployments switch without downtime',
      responses: ok(ClientSecretRotated, 'Created', '201'),
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
