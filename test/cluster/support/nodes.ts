import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../support/serve.ts';
import { fileURLToPath } from 'node:url';

/**
 * Real `lanyard serve` processes on loopback, as an operator runs them. Nothing here fakes a
 * node: each is a child process with its own pool, caches and signing-key view.
 */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${REPO}packages/cli/bin/lanyard.js`;

export { freePort };

export interface LanyardNode {
  name: string;
  /** Where this node really listens (the test routes requests here). */
  origin: string;
  child: ChildProcess;
  /** Every JSON line the node wrote to stdout (request logs, lifecycle messages). */
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `lanyard serve` with `env` on a free loopback port; resolves once it listens. */
export async function startNode(name: string, env: Record<string, string>, port?: number): Promise<LanyardNode> {
  const listenPort = port ?? (await freePort());
  const child = spawn(process.execPath, [CLI, 'serve', '--json', '--host', '127.0.0.1', '--port', String(listenPort)], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LANYARD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (typeof entry.url === 'string') resolve();
        } catch {
          stderr.push(line);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
    void exited.then(({ code, signal }) => reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stderr.join('')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await ready.finally(() => clearTimeout(timeout));
  return { name, origin: `http://127.0.0.1:${listenPort}`, child, logs, stderr, exited, kill: (signal) => child.kill(signal) };
}

/** Runs the `lanyard` CLI against the same database (key rotation, as an operator would). */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** A connection-level failure (refused, reset, closed mid-response): the request may be retried elsewhere. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return (
    cause !== undefined &&
    /ECONNREFUSED|ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED|other side closed|socket/i.test(`${cause.code ?? ''} ${cause.message ?? ''}`)
  );
}

/** The same URL at another node: what a load balancer does for the path and query. */
export function at(node: { origin: string }, url: string): string {
  const target = new URL(url);
  const origin = new URL(node.origin);
  target.protocol = origin.protocol;
  target.host = origin.host;
  return target.toString();
}
