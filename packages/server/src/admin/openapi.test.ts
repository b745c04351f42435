import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createApp, type App } from '../http/app.ts';
import { jsonLogger } from '../http/logger.ts';
import { routeModules } from '../index.ts';
import { createServices, type Services } from '../services.ts';
import { adminOpenApiDocument } from './openapi.ts';
import { ADMIN_PREFIX } from './routes.ts';

type Operations = Record<string, Record<string, unknown>>;

describe('admin OpenAPI document', () => {
  let services: Services;
  let app: App;
  beforeAll(async () => {
    services = await createServices(loadConfig({ LANYARD_DATABASE_URL: 'sqlite::memory:' }, { secretKey: randomBytes(32) }), {
      logger: jsonLogger('silent'),
    });
    app = createApp(services, routeModules(services));
  });
  afterAll(() => services.storage.close());

  const document = adminOpenApiDocument();
  const paths = document.paths as Operations;
  /** Hono's `:sid` is OpenAPI's `{sid}`; middleware shows up as method ALL and is not a route. */
  const registered = () =>
    app.routes
      .filter((r) => r.path.startsWith(ADMIN_PREFIX) && r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);

  it('describes every registered /admin/v1 route', () => {
    const routes = registered();
    expect(routes.length).toBeGreaterThanOrEqual(22);
    const undocumented = routes.filter((route) => {
      const [method, path] = route.split(' ');
      return paths[path!]?.[method!] === undefined;
    });
    expect(undocumented).toEqual([]);
  });

  it('documents no route the server lacks', () => {
    const routes = new Set(registered());
    const documented = Object.entries(paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect(documented.filter((op) => !routes.has(op))).toEqual([]);
  });

  it('is OpenAPI 3.1 with the bearer scheme, the error schema and an id for every operation', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes.adminKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.components.schemas.Error).toMatchObject({ required: ['code', 'message', 'status'] });
    const ids = Object.values(paths).flatMap((operations) => Object.values(operations).map((op) => (op as { operationId?: string }).operationId));
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const refs = JSON.stringify(document).match(/#\/components\/(schemas|responses)\/\w+/g) ?? [];
    for (const ref of refs) {
      const [, , group, name] = ref.split('/');
      expect((document.components as Record<string, Record<string, unknown>>)[group!]![name!], ref).toBeDefined();
    }
  });

  it('is served at /admin/v1/openapi.json without a key', async () => {
    const response = await app.request('/admin/v1/openapi.json');
    expect(response.status).toBe(200);
    expect(((await response.json()) as { paths: object }).paths).toEqual(paths);
  });

  // docs/openapi.json is this document; `npx vitest run -u` rewrites it after a change.
  it('matches docs/openapi.json', async () => {
    await expect(JSON.stringify(document, null, 2) + '\n').toMatchFileSnapshot('../../../../docs/openapi.json');
  });
});
