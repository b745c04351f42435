import { InvalidParameterError } from '../errors.ts';
import { describeNonMetadata } from './idp-metadata.ts';

/** Enough for a CDN hop and a login-domain move; more is a loop or a portal bouncing the request. */
export const MAX_METADATA_REDIRECTS = 5;
const TIMEOUT_MS = 10_000;
const MAX_BYTES = 1_000_000;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function parseMetadataUrl(value: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidParameterError(`${where} is not an absolute URL (got "${value.slice(0, 200)}").`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
    throw new InvalidParameterError(`${where} must use https (http only for an IdP on this machine): ${url.href.slice(0, 300)}`);
  return url;
}

/**
 * Fetches IdP metadata from `url`, following at most MAX_METADATA_REDIRECTS redirects, each to
 * https only (a redirect to http would let anyone on the path swap the IdP's certificates).
 * Errors say what came back — the status, an HTML page, a JSON document — not just "failed".
 */
export async function fetchIdpMetadata(url: string): Promise<string> {
  let current = parseMetadataUrl(url, 'metadataUrl');
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetch(current, {
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'manual',
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml;q=0.9, */*;q=0.1' },
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${TIMEOUT_MS / 1000} seconds`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new InvalidParameterError(`The IdP metadata could not be fetched from ${current.href.slice(0, 300)}: ${reason}.`);
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      if (hop >= MAX_METADATA_REDIRECTS)
        throw new InvalidParameterError(`The IdP metadata URL redirected more than ${MAX_METADATA_REDIRECTS} times (a loop?); use the final URL.`);
      current = parseMetadataUrl(new URL(response.headers.get('location')!, current).href, `The metadata URL redirected to a URL that`);
      continue;
    }
    const text = await readBounded(response);
    const type = response.headers.get('content-type') ?? '(none)';
    if (!response.ok) {
      const what = describeNonMetadata(text);
      throw new InvalidParameterError(
        `The IdP metadata URL ${current.href.slice(0, 300)} answered HTTP ${response.status}${what ? ` with ${what}` : ''}`,
      );
    }
    const other = describeNonMetadata(text);
    if (other)
      throw new InvalidParameterError(`The IdP metadata URL ${current.href.slice(0, 300)} returned ${other} (Content-Type: ${type.slice(0, 100)})`);
    return text;
  }
}

async function readBounded(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_BYTES) {
    await response.body?.cancel();
    throw new InvalidParameterError('The IdP metadata is larger than 1 MB.');
  }
  const body = await response.arrayBuffer();
  if (body.byteLength > MAX_BYTES) throw new InvalidParameterError('The IdP metadata is larger than 1 MB.');
  return new TextDecoder().decode(body);
}
