import { describe, expect, it } from 'vitest';
import { jsonLogger, type LogLevel } from './logger.ts';

const collect = (level: LogLevel) => {
  const lines: string[] = [];
  return { lines, logger: jsonLogger(level, (line) => lines.push(line)) };
};

describe('jsonLogger', () => {
  it('writes one JSON object per line with an ISO time, the level name, the message and the fields', () => {
    const { lines, logger } = collect('info');
    const before = Date.now();
    logger.info('request', { request_id: 'abc', route: '/healthz', status: 200 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', message: 'request', request_id: 'abc', route: '/healthz', status: 200 });
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(entry.time as string)).toBeGreaterThanOrEqual(before - 1000);
    // No host name or process id: a line says what happened, the platform says where.
    expect(Object.keys(entry).sort()).toEqual(['level', 'message', 'request_id', 'route', 'status', 'time']);
  });

  it('drops lines below the configured level and writes nothing when silent', () => {
    const warn = collect('warn');
    warn.logger.info('dropped');
    warn.logger.warn('kept');
    warn.logger.error('kept too');
    expect(warn.lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(['warn', 'error']);
    const silent = collect('silent');
    silent.logger.error('nothing');
    expect(silent.lines).toEqual([]);
  });

  it("writes a caller's field named like a line's own key (message, level, time) as field_<key>: one of each per line", () => {
    const { lines, logger } = collect('info');
    logger.warn('request failed', { code: 20503, message: 'The database is unavailable', level: 'x', time: 1 });
    expect(lines[0]!.match(/"message":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      message: 'request failed',
      field_message: 'The database is unavailable',
      field_level: 'x',
      field_time: 1,
    });
  });

  it('redacts credential fields a caller passes by mistake, and keeps error codes', () => {
    const { lines, logger } = collect('info');
    const secret = 'eyJhbGciOiJFUzI1NiJ9.super-secret-token-value';
    logger.warn('request failed', {
      code: 45200,
      access_token: secret,
      refresh_token: secret,
      SAMLResponse: secret,
      authorization: `Bearer ${secret}`,
    });
    expect(lines[0]).not.toContain('super-secret');
    expect(JSON.parse(lines[0]!)).toMatchObject({ code: 45200, access_token: '[redacted]', SAMLResponse: '[redacted]', authorization: '[redacted]' });
  });
});
