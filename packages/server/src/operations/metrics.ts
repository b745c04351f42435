/**
 * A small Prometheus registry (text exposition format 0.0.4): counters and histograms with
 * labels, plus process gauges read at scrape time. Label values come from closed sets (surface,
 * error code, route pattern, status class), never from user input, so cardinality stays bounded.
 */
type Labels = Record<string, string>;

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
};
const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

interface Metric {
  readonly name: string;
  lines(): string[];
}

export class Counter<L extends string> implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly L[],
  ) {}

  inc(labels: Record<L, string>, by = 1): void {
    const key = keyOf(labels);
    const entry = this.values.get(key) ?? { labels: pick(labels, this.labelNames), value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  /** The current value for one label set (0 when never counted). */
  get(labels: Record<L, string>): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  lines(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.values.values()].map(({ labels, value }) => `${this.name}${labelText(labels)} ${value}`),
    ];
  }
}

export class Histogram<L extends string> implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
  ) {}

  observe(labels: Record<L, string>, value: number): void {
    const key = keyOf(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: pick(labels, this.labelNames), counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) entry.counts[i]!++;
    entry.sum += value;
    entry.count++;
  }

  /** How many observations one label set has (for tests and the soak report). */
  count(labels: Record<L, string>): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((le, i) => out.push(`${this.name}_bucket${labelText({ ...labels, le: String(le) })} ${counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      out.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      out.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return out;
  }
}

/** A value read when scraped (memory, uptime). */
class Gauge implements Metric {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number,
  ) {}

  lines(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`];
  }
}

function pick(labels: Labels, names: readonly string[]): Labels {
  return Object.fromEntries(names.map((n) => [n, labels[n] ?? '']));
}

/** Latency buckets in seconds: a login step is a few ms; a slow IdP or database shows up at the top. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Lanyard's metrics, one registry per process. */
export class Metrics {
  readonly logins = new Counter('lanyard_logins_total', 'Completed IdP sign-ins by surface and outcome (succeeded, failed).', [
    'surface',
    'outcome',
  ] as const);
  readonly loginFailures = new Counter('lanyard_login_failures_total', 'Failed IdP sign-ins by reason (the Lanyard error code).', [
    'reason',
  ] as const);
  readonly tokenGrants = new Counter(
    'lanyard_token_grants_total',
    'Token endpoint grants by grant type and outcome (issued, or the error code that refused it).',
    ['grant', 'outcome'] as const,
  );
  readonly httpDuration = new Histogram(
    'lanyard_http_request_duration_seconds',
    'HTTP request latency by route pattern, method and status class.',
    ['route', 'method', 'status'] as const,
    LATENCY_BUCKETS,
  );
  private readonly started = Date.now();
  private readonly all: Metric[] = [
    this.logins,
    this.loginFailures,
    this.tokenGrants,
    this.httpDuration,
    new Gauge('process_resident_memory_bytes', 'Resident set size in bytes.', () => process.memoryUsage().rss),
    new Gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed),
    new Gauge('nodejs_heap_total_bytes', 'V8 heap allocated, in bytes.', () => process.memoryUsage().heapTotal),
    new Gauge('process_uptime_seconds', 'Seconds since this process started serving.', () => (Date.now() - this.started) / 1000),
  ];

  /** The exposition text for `GET /metrics`. */
  render(): string {
    return this.all.flatMap((metric) => metric.lines()).join('\n') + '\n';
  }
}
