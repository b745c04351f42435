import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { BIN, ROOT } from './cli.ts';

/** A loopback port nothing listens on right now (the OS's choice; another process may take it before it is used). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Served {
  child: ChildProcess;
  origin: string;
  /** What the process wrote to stderr so far. */
  stderr: () => string;
}

/**
 * The built CLI's `lanyard serve` on a free loopback port, started by `command` (default: this
 * Node; a launcher such as `prlimit … -- node` works too) with `env` and stdout on `stdout`.
 * Resolves once `/readyz` answers 200; throws with the process's stderr when it exits first or
 * is not ready within 30 s, and kills it then.
 */
export async function serveUntilReady(options: {
  env: Record<string, string | undefined>;
  command?: string[];
  stdout?: number | 'ignore';
}): Promise<Served> {
  const [program, ...launcherArgs] = options.command ?? [process.execPath];
  const port = await freePort();
  const child = spawn(program!, [...launcherArgs, BIN, 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lanyard serve exited (${child.exitCode}):\n${stderr}`);
    const status = await fetch(`${origin}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`/readyz never answered 200:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, origin, stderr: () => stderr };
}
