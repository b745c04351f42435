import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.ts';

describe('Metrics', () => {
  it('renders counters and histograms in the Prometheus text format', async () => {
    const metrics = new Metrics();
    metrics.logins.inc({ surface: 'flex', outcome: 'succeeded' });
    metrics.logins.inc({ surface: 'flex', outcome: 'succeeded' });
    metrics.loginFailures.inc({ reason: '45050' });
    metrics.httpDuration.observe({ route: '/v1/Flex/OAuth/Tokens', method: 'POST', status: '2xx' }, 0.03);
    const text = await metrics.render();
    expect(text).toContain('# TYPE lanyard_logins_total counter');
    expect(text).toContain('lanyard_logins_total{surface="flex",outcome="succeeded"} 2');
    expect(text).toContain('lanyard_login_failures_total{reason="45050"} 1');
    expect(text).toContain('# TYPE lanyard_http_request_duration_seconds histogram');
    // 0.03 s falls in every bucket from 0.05 up, not in 0.025. (Label order inside the braces
    // carries no meaning in the exposition format; prom-client writes `le` first.)
    expect(text).toContain('lanyard_http_request_duration_seconds_bucket{le="0.025",route="/v1/Flex/OAuth/Tokens",method="POST",status="2xx"} 0');
    expect(text).toContain('lanyard_http_request_duration_seconds_bucket{le="0.05",route="/v1/Flex/OAuth/Tokens",method="POST",status="2xx"} 1');
    expect(text).toContain('lanyard_http_request_duration_seconds_bucket{le="+Inf",route="/v1/Flex/OAuth/Tokens",method="POST",status="2xx"} 1');
    expect(text).toContain('lanyard_http_request_duration_seconds_count{route="/v1/Flex/OAuth/Tokens",method="POST",status="2xx"} 1');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^nodejs_heap_used_bytes \d+$/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('keeps one series per label set whatever the order labels are given in, and escapes values', async () => {
    const metrics = new Metrics();
    metrics.tokenGrants.inc({ grant: 'refresh_token', outcome: 'issued' });
    metrics.tokenGrants.inc({ outcome: 'issued', grant: 'refresh_token' });
    const series = (await metrics.tokenGrants.get()).values.filter((v) => v.labels.grant === 'refresh_token' && v.labels.outcome === 'issued');
    expect(series.map((v) => v.value)).toEqual([2]);
    metrics.loginFailures.inc({ reason: 'a"b\\c\nd' });
    expect(await metrics.render()).toContain('lanyard_login_failures_total{reason="a\\"b\\\\c\\nd"} 1');
  });
});
