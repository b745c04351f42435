import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { fetchIdpMetadata, MAX_METADATA_REDIRECTS } from '../../packages/server/src/accounts/metadata-fetch.ts';
import { createEnterpriseIdp } from '../support/samlify-idp.ts';

/**
 * Metadata URLs as IdPs serve them (issue 14): behind redirects, or not metadata at all. A real
 * HTTP server on loopback answers; the errors must say what was received.
 */
describe('IdP metadata URLs', () => {
  let server: Server;
  let base: string;
  let metadataXml: string;

  beforeAll(async () => {
    metadataXml = createEnterpriseIdp({ credentials: await generateSigningCredentials('URL IdP') }).metadataXml;
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const hop = Number(url.searchParams.get('hop') ?? 0);
      if (url.pathname === '/chain') {
        if (hop > 0) return res.writeHead(302, { location: `/chain?hop=${hop - 1}` }).end();
        return res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(metadataXml);
      }
      if (url.pathname === '/to-plain-http') return res.writeHead(301, { location: 'http://idp.example.com/metadata' }).end();
      if (url.pathname === '/portal')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>Sign in</body></html>');
      if (url.pathname === '/discovery') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":"x"}');
      return res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not found</body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
  });

  it(`follows up to ${MAX_METADATA_REDIRECTS} redirects`, async () => {
    expect(await fetchIdpMetadata(`${base}/chain?hop=${MAX_METADATA_REDIRECTS}`)).toBe(metadataXml);
    await expect(fetchIdpMetadata(`${base}/chain?hop=${MAX_METADATA_REDIRECTS + 1}`)).rejects.toThrow(/redirected more than 5 times/);
  });

  it('refuses a redirect to plain http (anyone on the path could swap the certificates)', async () => {
    await expect(fetchIdpMetadata(`${base}/to-plain-http`)).rejects.toThrow(/redirected to a URL that must use https.*http:\/\/idp\.example\.com/);
  });

  it('says an HTML page, a JSON document or an error status came back, not "DTD" or "fetch failed"', async () => {
    const html = fetchIdpMetadata(`${base}/portal`);
    await expect(html).rejects.toThrow(/returned an HTML page, not SAML metadata.*Content-Type: text\/html/);
    await expect(fetchIdpMetadata(`${base}/portal`)).rejects.not.toThrow(/DTD/);
    await expect(fetchIdpMetadata(`${base}/discovery`)).rejects.toThrow(/a JSON document.*OIDC connection/);
    await expect(fetchIdpMetadata(`${base}/missing`)).rejects.toThrow(/answered HTTP 404 with an HTML page/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(fetchIdpMetadata(`http://127.0.0.1:${port}/metadata`)).rejects.toThrow(/could not be fetched from .*: ECONNREFUSED/);
  });
});
