import { describe, expect, it } from 'vitest';
import { listeningLine } from './serve.ts';

describe('listeningLine', () => {
  it('names the public URL alone when the server listens there', () => {
    expect(listeningLine('http://127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }, false)).toBe(
      'Lanyard is listening on http://127.0.0.1:4000 (Ctrl-C stops it)\n',
    );
  });

  it('names where it listens and the public URL apart when they differ (a proxy in front, another port)', () => {
    expect(listeningLine('https://sso.example.com', { host: '0.0.0.0', port: 4519 }, false)).toBe(
      'Lanyard is listening on http://0.0.0.0:4519, public URL https://sso.example.com (Ctrl-C stops it)\n',
    );
    expect(listeningLine('http://127.0.0.1:4517', { host: '127.0.0.1', port: 4518 }, false)).toContain(
      'listening on http://127.0.0.1:4518, public URL',
    );
    // Under a path a proxy strips: the server answers at its root, not there.
    expect(listeningLine('http://127.0.0.1:4000/sso', { host: '127.0.0.1', port: 4000 }, false)).toBe(
      'Lanyard is listening on http://127.0.0.1:4000, public URL http://127.0.0.1:4000/sso (Ctrl-C stops it)\n',
    );
  });

  it('brackets an IPv6 host, and gives both in JSON', () => {
    expect(JSON.parse(listeningLine('https://sso.example.com/', { host: '::1', port: 4000 }, true))).toEqual({
      url: 'https://sso.example.com/',
      listening: 'http://[::1]:4000',
    });
  });
});
