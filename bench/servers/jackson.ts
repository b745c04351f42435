/**
 * Baseline: BoxyHQ SAML Jackson (`@boxyhq/saml-jackson`, the npm library) with its in-memory
 * engine, doing its SAML-to-OAuth flow for the same dev IdP. Jackson is a library that a host
 * app mounts on its own routes; this file is that thin host (node:http, as in Jackson's own
 * examples the controllers do all the work): GET /authorize, POST /api/oauth/saml (ACS),
 * POST /token.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import jacksonModule from '@boxyhq/saml-jackson';
import { exitWithParent } from '../lib/parent-link.ts';

// Registered before any start-up work: a bench that dies meanwhile leaves nothing running.
exitWithParent();

// The package is CommonJS: under ESM its default export arrives wrapped once more.
const jackson = ((jacksonModule as unknown as { default?: typeof jacksonModule }).default ?? jacksonModule) as typeof jacksonModule;

const server = createServer((req, res) => void handle(req, res).catch((error: Error) => send(res, 500, { error: error.message })));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const externalUrl = `http://127.0.0.1:${port}`;
const { oauthController, connectionAPIController, close } = await jackson({
  externalUrl,
  samlPath: '/api/oauth/saml',
  samlAudience: 'https://saml.boxyhq.com',
  db: { engine: 'mem' },
  noAnalytics: true,
  openid: {},
  logger: { info: () => undefined, error: () => undefined },
} as Parameters<typeof jackson>[0]);

const redirectUrl = 'http://127.0.0.1:5173/desktop/';
const clientId = 'tenant=bench&product=lanyard-bench';

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', externalUrl);
  if (req.method === 'GET' && url.pathname === '/authorize') {
    const q = Object.fromEntries(url.searchParams);
    const { redirect_url, error } = (await oauthController.authorize({ ...q, client_id: clientId } as never)) as {
      redirect_url?: string;
      error?: string;
    };
    if (!redirect_url) return send(res, 400, { error });
    res.writeHead(302, { location: redirect_url }).end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/api/oauth/saml') {
    const form = new URLSearchParams(await readBody(req));
    const { redirect_url, error } = (await oauthController.samlResponse({
      SAMLResponse: form.get('SAMLResponse') ?? '',
      RelayState: form.get('RelayState') ?? '',
    })) as { redirect_url?: string; error?: string };
    if (!redirect_url) return send(res, 400, { error });
    res.writeHead(302, { location: redirect_url }).end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/token') {
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    return send(res, 200, await oauthController.token(form as never));
  }
  send(res, 404, { error: 'not found' });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.send!({ type: 'ready', url: externalUrl });
process.on('message', (message: { id: number; cmd: string; metadataXml?: string }) => {
  void (async () => {
    if (message.cmd === 'setup') {
      await connectionAPIController.createSAMLConnection({
        rawMetadata: message.metadataXml!,
        defaultRedirectUrl: redirectUrl,
        redirectUrl: JSON.stringify([redirectUrl]),
        tenant: 'bench',
        product: 'lanyard-bench',
      } as never);
      process.send!({ id: message.id, result: { clientId, redirectUrl } });
    } else if (message.cmd === 'stop') {
      server.closeAllConnections();
      server.close();
      await close();
      process.send!({ id: message.id, result: null });
      setImmediate(() => process.exit(0));
    }
  })().catch((error: Error) => process.send!({ id: message.id, error: error.stack ?? error.message }));
});
