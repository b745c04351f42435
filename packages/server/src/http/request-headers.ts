import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';

/** The Node request behind a Hono context (`c.env.incoming` under @hono/node-server); none under `app.request()`. */
export function nodeRequestOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/**
 * A request header, as the Fetch API's `Headers.get` gives it: repeated fields joined with ", "
 * (RFC 9110 §5.3), `undefined` when absent. Under Node it is read from the IncomingMessage's own
 * parsed fields: Hono's `c.req.header` makes @hono/node-server build a WHATWG `Headers` object of
 * every field first, several µs a request (docs/benchmarks.md, fifth round). Without a Node
 * request (`app.request()` in tests) it is Hono's `c.req.header`.
 *
 * @param name a lower-case field name
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequestOf(c);
  if (!incoming) return c.req.header(name);
  return incoming.headersDistinct[name]?.join(', ');
}
