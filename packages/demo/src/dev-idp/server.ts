import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readAuthnRequest } from './authn-request.ts';
import { generateSigningCredentials, type SigningCredentials } from './credentials.ts';
import { autoPostForm, loginPage, usersPage } from './pages.ts';
import { createIdentityProvider, createSignedResponse, type ResponseOptions, type SignedResponse } from './responses.ts';
import { DEFAULT_USERS, type DevUser } from './users.ts';

export interface DevIdpOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  users?: DevUser[];
  /** A fixed key and certificate (otherwise generated at start). */
  credentials?: SigningCredentials;
  signResponse?: boolean;
  signAssertion?: boolean;
}

export interface DevIdp {
  url: string;
  entityId: string;
  ssoUrl: string;
  metadataXml: string;
  certificatePem: string;
  users: DevUser[];
  /** A signed response for any SP, e.g. an IdP-initiated login or a test's crafted case. */
  createResponse(options: Omit<ResponseOptions, 'user'> & { userId: string }): Promise<SignedResponse>;
  close(): Promise<void>;
}

/** The development SAML 2.0 IdP (samlify) used by `npm start` and the integration tests. */
export async function startDevIdp(options: DevIdpOptions = {}): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  const users = options.users ?? DEFAULT_USERS;
  const credentials = options.credentials ?? (await generateSigningCredentials());
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => send(res, 400, 'text/plain; charset=utf-8', `Development IdP: ${error.message}`));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  const entityId = `${url}/metadata`;
  const ssoUrl = `${url}/sso`;
  const idp = createIdentityProvider(entityId, ssoUrl, credentials.privateKeyPem, credentials.certificatePem);
  const metadataXml = idp.getMetadata();

  const findUser = (id: string) => {
    const user = users.find((u) => u.id === id);
    if (!user) throw new Error(`no test user "${id}"`);
    return user;
  };
  const createResponse: DevIdp['createResponse'] = ({ userId, ...rest }) =>
    createSignedResponse(idp, { signResponse: options.signResponse, signAssertion: options.signAssertion, ...rest, user: findUser(userId) });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? '/', url);
    if (req.method === 'GET' && requestUrl.pathname === '/metadata') return send(res, 200, 'application/samlmetadata+xml', metadataXml);
    if (req.method === 'GET' && requestUrl.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', usersPage(users));
    if (req.method === 'GET' && requestUrl.pathname === '/sso') {
      const samlRequest = requestUrl.searchParams.get('SAMLRequest');
      if (!samlRequest) throw new Error('SAMLRequest is missing');
      const request = readAuthnRequest(samlRequest);
      const pending = { SAMLRequest: samlRequest, RelayState: requestUrl.searchParams.get('RelayState') ?? '' };
      return send(res, 200, 'text/html; charset=utf-8', loginPage(users, pending, request.issuer));
    }
    if (req.method === 'POST' && requestUrl.pathname === '/sso/login') {
      const form = new URLSearchParams(await readBody(req));
      const request = readAuthnRequest(form.get('SAMLRequest') ?? '');
      const relayState = form.get('RelayState') || undefined;
      const response = await createResponse({ userId: form.get('user') ?? '', acsUrl: request.acsUrl, audience: request.issuer, inResponseTo: request.id, relayState });
      return send(res, 200, 'text/html; charset=utf-8', autoPostForm(request.acsUrl, { ...response }));
    }
    send(res, 404, 'text/plain; charset=utf-8', 'Not found');
  }

  return {
    url,
    entityId,
    ssoUrl,
    metadataXml,
    certificatePem: credentials.certificatePem,
    users,
    createResponse,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
