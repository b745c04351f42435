import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

// The four classes from their own files: prom-client's index also loads collectDefaultMetrics,
// the push gateway, the cluster aggregator and @opentelemetry/api, ~30 ms of every start-up for
// nothing Lanyard uses. (prom-client 15 has no `exports` map; metrics.test.ts renders through these.)
const require = createRequire(import.meta.url);
const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;

/**
 * Lanyard's Prometheus metrics (prom-client, text exposition format 0.0.4), one registry per
 * process — not prom-client's global one, so that several servers in one process (tests, the
 * demo) keep separate counts. Label values come from closed sets (surface, error code, route
 * pattern, method, status class), never from user input, so cardinality stays bounded.
 *
 * The names, labels and buckets are a contract with dashboards and alerts (docs/operations.md).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly logins = new Counter({
    name: 'lanyard_logins_total',
    help: 'Completed IdP sign-ins by surface and outcome (succeeded, failed).',
    labelNames: ['surface', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly loginFailures = new Counter({
    name: 'lanyard_login_failures_total',
    help: 'Failed IdP sign-ins by reason (the Lanyard error code).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly tokenGrants = new Counter({
    name: 'lanyard_token_grants_total',
    help: 'Token endpoint grants by grant type and outcome (issued, or the error code that refused it).',
    labelNames: ['grant', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'lanyard_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern, method and status class.',
    labelNames: ['route', 'method', 'status'] as const,
    // Seconds: a login step is a few ms; a slow IdP or database shows up at the top.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly started = Date.now();

  constructor() {
    // Read at scrape time. Our own names rather than collectDefaultMetrics(): these four are what
    // the soak test and existing dashboards read, and the defaults would add dozens of series.
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('process_resident_memory_bytes', 'Resident set size in bytes.', () => process.memoryUsage.rss());
    gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed);
    gauge('nodejs_heap_total_bytes', 'V8 heap allocated, in bytes.', () => process.memoryUsage().heapTotal);
    gauge('process_uptime_seconds', 'Seconds since this process started serving.', () => (Date.now() - this.started) / 1000);
  }

  /** The exposition text for `GET /metrics`, ending in a newline. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** `text/plain; version=0.0.4; charset=utf-8`: the exposition format `render` writes. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
