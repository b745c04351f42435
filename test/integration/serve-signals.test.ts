import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliSandbox, ROOT } from '../support/cli.ts';

/**
 * `lanyard serve` drains on SIGTERM (docs/operations.md, "Graceful shutdown"). A supervisor may read
 * the listening line and signal at once: the handler must already be set when the line is out,
 * or the signal's default action ends the process without a drain (with the handlers set just
 * after the line, the first start of this test was killed so in each of two runs).
 */
const { env, cleanup } = cliSandbox();
afterAll(cleanup);

/** Starts `serve --json`, sends SIGTERM the moment the listening line arrives; the exit and stdout. */
function signalOnListening(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  const child = spawn('node', [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--json'], {
    cwd: ROOT,
    env: { ...env, LANYARD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const first = !stdout.includes('\n');
    stdout += chunk.toString('utf8');
    if (first && stdout.includes('\n')) child.kill('SIGTERM');
  });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout })));
}

describe('lanyard serve and a signal right after its listening line', { timeout: 120_000 }, () => {
  it('drains and exits 0 every time (8 starts)', async () => {
    for (let start = 0; start < 8; start++) {
      const { code, signal, stdout } = await signalOnListening();
      expect({ start, code, signal }).toEqual({ start, code: 0, signal: null });
      const lines = stdout.split('\n').filter(Boolean);
      expect(Object.keys(JSON.parse(lines[0]!) as object).sort()).toEqual(['listening', 'url']);
      expect(lines.some((line) => (JSON.parse(line) as { message?: string }).message === 'shutting down')).toBe(true);
    }
  });
});
