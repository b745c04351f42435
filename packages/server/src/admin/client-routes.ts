import type { Context, Hono } from 'hono';
import type { AppVariables } from '../http/app-types.ts';
import { parseWith, readJson } from '../http/request-body.ts';
import type { AdminVariables } from './admin-auth.ts';
import { ClientAdmin, clientSchemas, type ClientAdminDependencies } from './client-admin.ts';

type AdminEnv = { Variables: AppVariables & AdminVariables };

/** `/admin/v1` routes for OpenID Connect client registration (described in openapi-clients.ts). */
export function clientRoutes(admin: Hono<AdminEnv>, services: ClientAdminDependencies): void {
  const ops = (c: Context<AdminEnv>) => {
    const key = `admin key ${c.get('adminKey').sid} (${c.get('adminKey').name})`;
    return new ClientAdmin(services, c.get('viaConsole') ? { surface: 'console', name: `console, ${key}` } : { surface: 'admin-api', name: key });
  };
  /** The rotation body is optional: no body means the defaults. */
  const optionalBody = async (c: Context<AdminEnv>) =>
    (c.req.header('content-length') ?? '0') === '0' && !c.req.header('transfer-encoding')
      ? parseWith(clientSchemas.rotate, {})
      : readJson(c, clientSchemas.rotate);
  admin.get('/accounts/:sid/clients', async (c) => c.json(await ops(c).list(c.req.param('sid')!)));
  admin.post('/accounts/:sid/clients', async (c) =>
    c.json(await ops(c).register(c.req.param('sid')!, await readJson(c, clientSchemas.register)), 201),
  );
  admin.get('/clients/:client_id', async (c) => c.json(await ops(c).get(c.req.param('client_id')!)));
  admin.patch('/clients/:client_id', async (c) => c.json(await ops(c).update(c.req.param('client_id')!, await readJson(c, clientSchemas.update))));
  admin.delete('/clients/:client_id', async (c) => c.json(await ops(c).remove(c.req.param('client_id')!)));
  admin.post('/clients/:client_id/secrets', async (c) => c.json(await ops(c).rotateSecret(c.req.param('client_id')!, await optionalBody(c)), 201));
  admin.delete('/clients/:client_id/secrets/:secret_id', async (c) =>
    c.json(await ops(c).revokeSecret(c.req.param('client_id')!, c.req.param('secret_id')!)),
  );
}
