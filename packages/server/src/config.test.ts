import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { availableCpus } from './available-cpus.ts';

function configFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'lanyard-config-')), 'lanyard.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('reads LANYARD_CONFIG_FILE under the environment: the environment wins', () => {
    const path = configFile({
      LANYARD_PORT: 4100,
      LANYARD_PUBLIC_URL: 'https://sso.example.com',
      LANYARD_TRUST_PROXY: true,
      LANYARD_SHUTDOWN_TIMEOUT: 3,
    });
    const config = loadConfig({ LANYARD_CONFIG_FILE: path, LANYARD_PORT: '4200' });
    expect(config.port).toBe(4200);
    expect(config.publicUrl).toBe('https://sso.example.com');
    expect(config.trustProxy).toBe(true);
    expect(config.shutdownTimeoutSeconds).toBe(3);
  });

  it('makes the default public URL from the host and port, an IPv6 host in brackets', () => {
    expect(loadConfig({ LANYARD_HOST: '127.0.0.1', LANYARD_PORT: '4100' }).publicUrl).toBe('http://127.0.0.1:4100');
    expect(loadConfig({ LANYARD_HOST: '::1', LANYARD_PORT: '4100' }).publicUrl).toBe('http://[::1]:4100');
    expect(loadConfig({ LANYARD_HOST: '::' }).publicUrl).toBe('http://[::]:4000');
  });

  it('refuses unknown keys in the file, naming the key and the file', () => {
    const path = configFile({ LANYARD_PUBLC_URL: 'https://sso.example.com', LANYARD_PORT: 4000 });
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: path })).toThrow(`LANYARD_PUBLC_URL: unknown setting in ${path}`);
  });

  it('says which file a bad value came from, and not when the environment supplied it', () => {
    const path = configFile({ LANYARD_PORT: 'eighty', LANYARD_LOG_LEVEL: 'verbose' });
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: path })).toThrow(new RegExp(`LANYARD_PORT \\(from ${path}\\): .*number`));
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: path, LANYARD_LOG_LEVEL: 'info' })).toThrow(`LANYARD_PORT (from ${path})`);
    try {
      loadConfig({ LANYARD_CONFIG_FILE: path, LANYARD_PORT: '80' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(new RegExp(`LANYARD_LOG_LEVEL \\(from ${path}\\): .*"info"`));
      expect((error as Error).message).not.toContain('LANYARD_PORT');
    }
  });

  it('explains an unreadable file, invalid JSON and a non-object', () => {
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: '/nonexistent/lanyard.json' })).toThrow(
      'LANYARD_CONFIG_FILE /nonexistent/lanyard.json cannot be read (ENOENT)',
    );
    const broken = configFile('{"LANYARD_PORT": 4000,');
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: broken })).toThrow(`${broken} is not valid JSON`);
    const list = configFile(['LANYARD_PORT']);
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: list })).toThrow('must hold a JSON object');
    const nested = configFile({ LANYARD_PORT: { value: 4000 } });
    expect(() => loadConfig({ LANYARD_CONFIG_FILE: nested })).toThrow(`LANYARD_PORT: must be a string, number or boolean in ${nested}`);
  });

  it('validates the new operations settings', () => {
    expect(() => loadConfig({ LANYARD_METRICS_TOKEN: 'short' })).toThrow('LANYARD_METRICS_TOKEN: must be at least 16 characters');
    expect(() => loadConfig({ LANYARD_SHUTDOWN_TIMEOUT: '-1' })).toThrow('LANYARD_SHUTDOWN_TIMEOUT');
    expect(loadConfig({}).logLevel).toBe('info');
    expect(loadConfig({}).shutdownTimeoutSeconds).toBe(10);
  });

  it('keeps idle connections longer than clients and load balancers do, and headers time out after that', () => {
    expect(loadConfig({})).toMatchObject({ keepAliveTimeoutSeconds: 72, headersTimeoutSeconds: 75 });
    expect(loadConfig({ LANYARD_KEEP_ALIVE_TIMEOUT: '120', LANYARD_HEADERS_TIMEOUT: '125' })).toMatchObject({
      keepAliveTimeoutSeconds: 120,
      headersTimeoutSeconds: 125,
    });
    expect(() => loadConfig({ LANYARD_KEEP_ALIVE_TIMEOUT: '90' })).toThrow('LANYARD_HEADERS_TIMEOUT: must be above LANYARD_KEEP_ALIVE_TIMEOUT (90)');
    expect(() => loadConfig({ LANYARD_KEEP_ALIVE_TIMEOUT: '0' })).toThrow('LANYARD_KEEP_ALIVE_TIMEOUT');
  });

  it('verifies SAML responses on one worker thread per core, at most 4, unless told otherwise', () => {
    expect(loadConfig({}).samlWorkers).toBe(Math.min(4, availableCpus()));
    expect(loadConfig({ LANYARD_SAML_WORKERS: '0' }).samlWorkers).toBe(0);
    expect(loadConfig({ LANYARD_SAML_WORKERS: '8' }).samlWorkers).toBe(8);
    expect(() => loadConfig({ LANYARD_SAML_WORKERS: '-1' })).toThrow(/LANYARD_SAML_WORKERS: .*>=0 \(got "-1"\)/);
    expect(() => loadConfig({ LANYARD_SAML_WORKERS: '65' })).toThrow(/LANYARD_SAML_WORKERS: .*<=64 \(got "65"\)/);
    // A string setting is never echoed: it may be a secret.
    expect(() => loadConfig({ LANYARD_METRICS_TOKEN: 'hunter2-secret' })).toThrow(/LANYARD_METRICS_TOKEN: must be at least 16 characters/);
    expect(() => loadConfig({ LANYARD_METRICS_TOKEN: 'hunter2-secret' })).not.toThrow(/hunter2/);
    expect(() => loadConfig({ LANYARD_SAML_WORKERS: 'many' })).toThrow('LANYARD_SAML_WORKERS: must be a number, got "many"');
    expect(() => loadConfig({ LANYARD_SAML_WORKERS: '1.5' })).toThrow('LANYARD_SAML_WORKERS: must be a whole number, got "1.5"');
  });
});
