import autocannon from 'autocannon';

/** One load-generator run (autocannon, in the bench process: never inside the server's). */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  durationSeconds: number;
  connections?: number;
  /** Per-request hooks (see autocannon's `requests`), e.g. for rotating refresh tokens. */
  requests?: autocannon.Request[];
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    duration: options.durationSeconds,
    connections: options.connections ?? 10,
    requests: options.requests,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * Load for a rotating refresh grant: every request presents the latest refresh token of a
 * session no other request holds at that moment, and stores the successor from the answer.
 */
export function rotatingRefresh(
  tokens: string[],
  makeBody: (token: string) => string,
  readToken: (body: string) => string | undefined,
): { requests: autocannon.Request[]; failures: () => number } {
  const idle = tokens.map((token) => ({ token }));
  let failures = 0;
  return {
    failures: () => failures,
    requests: [
      {
        setupRequest: (request, context) => {
          const session = idle.shift();
          if (!session) throw new Error('more connections than sessions');
          (context as { session?: { token: string } }).session = session;
          return { ...request, body: makeBody(session.token) };
        },
        onResponse: (status, body, context) => {
          const session = (context as { session: { token: string } }).session;
          const next = status === 200 ? readToken(body) : undefined;
          if (next) {
            session.token = next;
            idle.push(session);
          } else failures++;
        },
      },
    ],
  };
}
