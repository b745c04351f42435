import type { Context } from 'hono';
import type { ServerResponse } from 'node:http';

/**
 * Sets a response header for the answer this request gets, whatever handler builds it.
 *
 * Under Node the header goes on the `ServerResponse` itself: node:http merges it with the headers
 * the answer is written with, and those take precedence, so a route that sets its own value
 * through Hono (`c.header`, e.g. the console's Content-Security-Policy) replaces it. A response
 * whose headers all come this way stays a plain object all the way to the socket: through Hono
 * every answer would carry a WHATWG `Headers` object that @hono/node-server converts back,
 * 14 µs of a 44 µs request (docs/benchmarks.md, fifth round). Without a Node response
 * (`app.request()` in tests) it is Hono's `c.header`.
 *
 * @param options.append add to a list-valued header (`Vary`) instead of replacing it
 */
export function setResponseHeader(c: Context, name: string, value: string, options: { append?: boolean } = {}): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing || outgoing.headersSent) {
    c.header(name, value, options);
    return;
  }
  const existing = options.append ? outgoing.getHeader(name) : undefined;
  if (existing === undefined) outgoing.setHeader(name, value);
  else outgoing.setHeader(name, `${Array.isArray(existing) ? existing.join(', ') : String(existing)}, ${value}`);
}
