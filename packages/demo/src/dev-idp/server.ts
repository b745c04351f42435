import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { AuthnRequestError, readAuthnRequest, type RequestBinding } from './authn-request.ts';
import { generateSigningCredentials, type SigningCredentials } from './credentials.ts';
import { createIdentityProvider, type SignatureAlgorithm } from './identity-provider.ts';
import { createLoginResponse, type LoginResponseOptions, type SignedResponse } from './login-response.ts';
import { autoPostForm, errorPage, homePage, loginPage } from './pages.ts';
import { ServiceProviderRegistry, type ServiceProviderRegistration } from './service-providers.ts';
import { DEFAULT_USERS, DevSignInError, checkPassword, findUser, type DevUser } from './users.ts';

export interface DevIdpOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** A loopback address (default 127.0.0.1): anyone who reaches this IdP can sign in as any test user. */
  host?: string;
  users?: DevUser[];
  /** A fixed key and certificate, e.g. to keep the IdP's certificate across demo restarts (else generated at start). */
  credentials?: SigningCredentials;
  /** RSA signature algorithm of responses (default sha256). */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Defaults for every response; each call may override them. Both default to true. */
  signResponse?: boolean;
  signAssertion?: boolean;
  /** SPs to register at start, for IdP-initiated sign-in (see `registerServiceProvider`). */
  serviceProviders?: ServiceProviderRegistration[];
  /** A Cross-Origin-Opener-Policy for every response (as some real IdPs send), e.g. `same-origin`. */
  crossOriginOpenerPolicy?: string;
}

/** What a response is built from; `userId` picks the test user (its NameID). */
export type ResponseRequest = Omit<LoginResponseOptions, 'user'> & { userId: string };
/** An IdP-initiated response: no InResponseTo; `acsUrl` defaults to the registered SP's ACS. */
export type UnsolicitedResponseRequest = Omit<ResponseRequest, 'inResponseTo' | 'acsUrl'> & { acsUrl?: string };

export interface DevIdp {
  /** Base URL, e.g. http://127.0.0.1:4100 */
  url: string;
  /** `${url}/metadata` */
  entityId: string;
  /** `${url}/sso` (HTTP-Redirect and HTTP-POST bindings). */
  ssoUrl: string;
  metadataXml: string;
  certificatePem: string;
  users: readonly DevUser[];
  /** A response to an AuthnRequest (or, without `inResponseTo`, an unsolicited one) for any SP: for tests. */
  createResponse(request: ResponseRequest): Promise<SignedResponse>;
  /** An IdP-initiated login response, as if the user had picked the SP on the IdP's own page. */
  createUnsolicitedResponse(request: UnsolicitedResponseRequest): Promise<SignedResponse>;
  /** Makes an SP known for IdP-initiated sign-in (listed on the home page). SP-initiated sign-in needs no registration. */
  registerServiceProvider(registration: ServiceProviderRegistration): void;
  close(): Promise<void>;
}

const HTML = 'text/html; charset=utf-8';
const isLoopback = (host: string) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * The development SAML 2.0 IdP (samlify) used by `npm start` and the integration tests. Only the
 * demo launcher and tests start it; `lanyard serve` never does.
 */
export async function startDevIdp(options: DevIdpOptions = {}): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`The development IdP listens on loopback only (it signs anyone in as any test user); got host "${host}".`);
  const users = options.users ?? DEFAULT_USERS;
  const credentials = options.credentials ?? (await generateSigningCredentials());
  const registry = new ServiceProviderRegistry();
  for (const sp of options.serviceProviders ?? []) registry.register(sp);

  // Like Lanyard (LANYARD_KEEP_ALIVE_TIMEOUT): idle connections outlive the client's, so a
  // client never sends a request on one the IdP is closing (ECONNRESET under load).
  const server = createServer({ keepAliveTimeout: 72_000, headersTimeout: 75_000 }, (req, res) => {
    if (options.crossOriginOpenerPolicy) res.setHeader('cross-origin-opener-policy', options.crossOriginOpenerPolicy);
    handle(req, res).catch((error: Error) => {
      if (error instanceof AuthnRequestError)
        send(res, 400, HTML, errorPage(error.message, 'Start the sign-in again from the application that sent you here.'));
      else send(res, 500, HTML, errorPage(`The development IdP failed: ${error.message}`, 'See the terminal running the IdP.'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const entityId = `${url}/metadata`;
  const ssoUrl = `${url}/sso`;
  const idp = createIdentityProvider({ entityId, ssoUrl, ...credentials, signatureAlgorithm: options.signatureAlgorithm });
  const metadataXml = idp.getMetadata();

  const createResponse = async ({ userId, ...rest }: ResponseRequest) =>
    createLoginResponse(idp, { signResponse: options.signResponse, signAssertion: options.signAssertion, ...rest, user: findUser(users, userId) });
  const createUnsolicitedResponse = async (request: UnsolicitedResponseRequest) => {
    const acsUrl = request.acsUrl ?? registry.find(request.audience)?.acsUrl;
    if (!acsUrl) throw new Error(`no ACS URL for ${request.audience}: pass acsUrl or register the service provider`);
    return createResponse({ ...request, acsUrl });
  };

  /** Who the response is for: the AuthnRequest being answered, or a registered SP (IdP-initiated). */
  async function resolveTarget(fields: URLSearchParams) {
    const samlRequest = fields.get('SAMLRequest');
    if (samlRequest === null) {
      const sp = registry.find(fields.get('sp') ?? '');
      if (!sp) throw new AuthnRequestError(`No SAMLRequest, and "${fields.get('sp') ?? ''}" is not a registered service provider.`);
      return { audience: sp.entityId, acsUrl: sp.acsUrl, inResponseTo: undefined };
    }
    const binding: RequestBinding = fields.get('binding') === 'post' ? 'post' : 'redirect';
    const request = await readAuthnRequest(idp, binding, samlRequest);
    const acsUrl = request.acsUrl ?? registry.find(request.issuer)?.acsUrl;
    if (!acsUrl)
      throw new AuthnRequestError(
        `The AuthnRequest from ${request.issuer} names no AssertionConsumerServiceURL, and that SP is not registered with this IdP.`,
      );
    return { audience: request.issuer, acsUrl, inResponseTo: request.id };
  }

  /** Step 1: show the sign-in page, carrying the request in hidden fields. */
  async function showLogin(res: ServerResponse, fields: URLSearchParams, binding: RequestBinding | 'initiate') {
    const pending: Record<string, string> =
      binding === 'initiate' ? { sp: fields.get('sp') ?? '' } : { SAMLRequest: fields.get('SAMLRequest') ?? '', binding };
    pending.RelayState = fields.get('RelayState') ?? '';
    const target = await resolveTarget(new URLSearchParams(pending));
    send(res, 200, HTML, loginPage({ users, pending, audience: target.audience, acsUrl: target.acsUrl }));
  }

  /** Step 2: the user picked; answer with the HTTP-POST binding form to the ACS. */
  async function login(res: ServerResponse, fields: URLSearchParams) {
    const target = await resolveTarget(fields);
    const relayState = fields.get('RelayState') || undefined;
    try {
      const user = findUser(users, fields.get('user') ?? '');
      checkPassword(user, fields.get('password'));
      const response = await createResponse({ userId: user.id, ...target, relayState });
      send(res, 200, HTML, autoPostForm(target.acsUrl, { ...response }));
    } catch (error) {
      if (!(error instanceof DevSignInError)) throw error;
      const pending = Object.fromEntries([...fields].filter(([name]) => ['SAMLRequest', 'binding', 'sp', 'RelayState'].includes(name)));
      send(res, 401, HTML, loginPage({ users, pending, audience: target.audience, acsUrl: target.acsUrl, error: error.message }));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(req.url ?? '/', url);
    const route = `${req.method} ${pathname}`;
    if (route === 'GET /') return send(res, 200, HTML, homePage(users, registry.list()));
    if (route === 'GET /metadata') return send(res, 200, 'application/samlmetadata+xml', metadataXml);
    if (route === 'GET /sso') return showLogin(res, searchParams, 'redirect');
    if (route === 'POST /sso') return showLogin(res, await readForm(req), 'post');
    if (route === 'GET /sso/initiate') return showLogin(res, searchParams, 'initiate');
    if (route === 'POST /sso/login') return login(res, await readForm(req));
    send(res, 404, HTML, errorPage(`Nothing at ${req.method} ${pathname}.`, 'The IdP serves /, /metadata, /sso and /sso/login.'));
  }

  return {
    url,
    entityId,
    ssoUrl,
    metadataXml,
    certificatePem: credentials.certificatePem,
    users,
    createResponse,
    createUnsolicitedResponse,
    registerServiceProvider: (registration) => registry.register(registration),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'referrer-policy': 'no-referrer', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new AuthnRequestError('The form is larger than 1 MB.');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
