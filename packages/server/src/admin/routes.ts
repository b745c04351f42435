import { Hono, type Context } from 'hono';
import { InvalidParameterError } from '../errors.ts';
import type { AppVariables, RouteModule } from '../http/app-types.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { Storage } from '../storage/port.ts';
import type { ClientAdminDependencies } from './client-admin.ts';
import type { IdentityAdminDependencies } from './identity-admin.ts';
import { parseWith, readJson } from '../http/request-body.ts';
import { adminAuthentication, type AdminVariables } from './admin-auth.ts';
import { clientRoutes } from './client-routes.ts';
import { ConsoleSessions } from '../console/console-sessions.ts';
import { AdminService, type Actor, type AdminServiceDependencies } from './admin-service.ts';
import { IdentityAdmin } from './identity-admin.ts';
import { samlInput, schemas } from './requests.ts';

export const ADMIN_PREFIX = '/admin/v1';

type AdminEnv = { Variables: AppVariables & AdminVariables };

/** The admin API (`/admin/v1`): account setup, users, sessions, tokens and keys, behind an admin API key. */
export interface AdminRouteDependencies extends AdminServiceDependencies, IdentityAdminDependencies, ClientAdminDependencies {
  storage: Storage;
  rateLimits: RateLimits;
}

export const adminRoutes =
  (services: AdminRouteDependencies): RouteModule =>
  (app) => {
    const admin = new Hono<AdminEnv>();
    // Every admin call, wrong keys included (key guessing), counts per address before authentication.
    admin.use('*', services.rateLimits.route('admin'));
    admin.use('*', adminAuthentication(services.adminKeys, new ConsoleSessions(services.storage, services.adminKeys)));
    const ops = (c: Context<AdminEnv>) => new AdminService(services, actorOf(c));
    const actorOf = (c: Context<AdminEnv>): Actor => {
      const key = `admin key ${c.get('adminKey').sid} (${c.get('adminKey').name})`;
      return c.get('viaConsole') ? { surface: 'console', name: `console, ${key}` } : { surface: 'admin-api', name: key };
    };
    const identity = (c: Context<AdminEnv>) => new IdentityAdmin(services, actorOf(c));

    // Loaded with the first request: building the document (zod → JSON Schema) costs start-up ~30 ms.
    admin.get('/openapi.json', async (c) => {
      const { adminOpenApiDocument } = await import('./openapi.ts');
      return c.json(adminOpenApiDocument(services.config.publicUrl));
    });

    admin.get('/accounts', async (c) => c.json(await ops(c).listAccounts()));
    admin.post('/accounts', async (c) => {
      const body = await readJson(c, schemas.createAccount);
      return c.json(await ops(c).createAccount(body.friendly_name), 201);
    });
    admin.get('/accounts/:sid', async (c) => c.json(await ops(c).getAccount(c.req.param('sid'))));
    admin.post('/accounts/:sid/auth-token', async (c) => c.json(await ops(c).rotateAuthToken(c.req.param('sid'))));
    admin.post('/accounts/:sid/connections', async (c) => {
      const { connection, created } = await ops(c).ensureConnection(c.req.param('sid'));
      return c.json(connection, created ? 201 : 200);
    });
    admin.put('/accounts/:sid/sso', async (c) => c.json(await ops(c).setSso(c.req.param('sid'), samlInput(await readJson(c, schemas.sso)))));

    admin.post('/accounts/:sid/sso/entities', async (c) =>
      c.json(await identity(c).metadataEntities(c.req.param('sid'), await readJson(c, schemas.metadataEntities))),
    );

    admin.get('/accounts/:sid/trusted-urls', async (c) => c.json(await ops(c).listTrustedUrls(c.req.param('sid'))));
    admin.post('/accounts/:sid/trusted-urls', async (c) => {
      const body = await readJson(c, schemas.url);
      return c.json(await ops(c).addTrustedUrl(c.req.param('sid'), body.url));
    });
    admin.delete('/accounts/:sid/trusted-urls', async (c) => {
      const target = c.req.query('url');
      if (!target) throw new InvalidParameterError('url: the Trusted URL to remove is required as a query parameter (?url=…).');
      return c.json(await ops(c).removeTrustedUrl(c.req.param('sid'), target));
    });
    admin.put('/accounts/:sid/redirect-url', async (c) => {
      const body = await readJson(c, schemas.redirectUrl);
      return c.json(await ops(c).setRedirectUrl(c.req.param('sid'), body.url));
    });
    admin.put('/accounts/:sid/mode', async (c) => {
      const body = await readJson(c, schemas.mode);
      return c.json(await ops(c).setMode(c.req.param('sid'), body.mode, body.force));
    });
    admin.put('/accounts/:sid/idp-initiated', async (c) => {
      const body = await readJson(c, schemas.idpInitiated);
      return c.json(await ops(c).setIdpInitiatedLogin(c.req.param('sid'), body.enabled));
    });
    admin.put('/accounts/:sid/roles', async (c) => {
      const body = await readJson(c, schemas.declaredRoles);
      return c.json(await ops(c).setDeclaredRoles(c.req.param('sid'), body.roles));
    });
    admin.put('/accounts/:sid/login-popup', async (c) => {
      const body = await readJson(c, schemas.loginPopup);
      return c.json(await ops(c).setLoginPopup(c.req.param('sid'), body.enabled));
    });
    admin.get('/accounts/:sid/app-config', async (c) => c.json(await ops(c).appConfig(c.req.param('sid'))));
    admin.get('/accounts/:sid/auth-config', async (c) => c.json(await ops(c).authConfig(c.req.param('sid'))));
    admin.get('/accounts/:sid/audit', async (c) => {
      const { limit } = parseWith(schemas.auditQuery, c.req.query());
      return c.json(await ops(c).auditEvents(c.req.param('sid'), limit));
    });
    admin.get('/accounts/:sid/users', async (c) => c.json(await ops(c).listUsers(c.req.param('sid'), c.req.query('search') || undefined)));
    admin.post('/accounts/:sid/revoke-sessions', async (c) => c.json(await ops(c).revokeAccountSessions(c.req.param('sid'))));

    admin.post('/users/:sid/disable', async (c) => c.json(await ops(c).setUserDisabled(c.req.param('sid'), true)));
    admin.post('/users/:sid/enable', async (c) => c.json(await ops(c).setUserDisabled(c.req.param('sid'), false)));
    admin.put('/users/:sid/unique-id', async (c) => {
      const body = await readJson(c, schemas.relinkUser);
      return c.json(await identity(c).relinkUser(c.req.param('sid'), body.unique_id));
    });
    admin.post('/users/:sid/merge', async (c) => {
      const body = await readJson(c, schemas.mergeUsers);
      return c.json(await identity(c).mergeUsers(c.req.param('sid'), body.into, body.adopt_unique_id ?? true));
    });
    admin.put('/connections/:sid/unique-id', async (c) =>
      c.json(await identity(c).setUniqueIdPolicy(c.req.param('sid'), await readJson(c, schemas.uniqueIdPolicy))),
    );
    admin.post('/users/:sid/revoke-sessions', async (c) => c.json(await ops(c).revokeUserSessions(c.req.param('sid'))));

    admin.put('/connections/:sid/redirect-uris', async (c) => {
      const body = await readJson(c, schemas.redirectUris);
      return c.json(await ops(c).setRedirectUris(c.req.param('sid'), body.redirect_uris));
    });

    admin.put('/connections/:sid/mapping', async (c) => {
      const body = await readJson(c, schemas.mapping);
      return c.json(await ops(c).setMapping(c.req.param('sid'), body));
    });

    admin.post('/connections/:sid/mapping/dry-run', async (c) =>
      c.json(await ops(c).dryRunMapping(c.req.param('sid'), await readJson(c, schemas.mappingDryRun, { allowUnstorableText: true }))),
    );
    admin.put('/accounts/:sid/oidc', async (c) => c.json(await ops(c).setOidc(c.req.param('sid'), await readJson(c, schemas.oidc))));

    admin.get('/connections/:sid/sp-keys', async (c) => c.json(await ops(c).listSpKeys(c.req.param('sid'))));
    admin.post('/connections/:sid/sp-keys/:use/rollover', async (c) =>
      c.json(await ops(c).changeSpKeys(c.req.param('sid'), parseWith(schemas.spKeyUse, c.req.param('use')), 'rollover')),
    );
    admin.post('/connections/:sid/sp-keys/:use/retire', async (c) =>
      c.json(await ops(c).changeSpKeys(c.req.param('sid'), parseWith(schemas.spKeyUse, c.req.param('use')), 'retire')),
    );

    admin.post('/tokens/verify', async (c) => {
      const body = await readJson(c, schemas.verifyToken);
      return c.json(await ops(c).verifyToken(body.token, body.account_sid));
    });
    admin.get('/signing-keys', async (c) => c.json(await ops(c).listSigningKeys()));
    admin.post('/signing-keys/rotate', async (c) => c.json(await ops(c).rotateSigningKeys()));

    clientRoutes(admin, services);

    app.route(ADMIN_PREFIX, admin);
  };
