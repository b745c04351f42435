import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleServer } from '../../packages/cli/build.mjs';

/** A server under test in its own Node process, driven over IPC for untimed set-up only. */
export interface Child {
  url: string;
  ready: Record<string, unknown>;
  /** Milliseconds from spawn to the process reporting it listens and is set up. */
  startupMs: number;
  process: ChildProcess;
  call<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

export interface ChildOptions {
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /**
   * Run compiled JavaScript without a loader: the server file bundled by esbuild as `npm run
   * build` bundles the `lanyard` command (packages/cli/build.mjs).
   */
  compiled?: boolean;
}

const serverPath = (name: string) => fileURLToPath(new URL(`../servers/${name}.ts`, import.meta.url));
// Inside node_modules: the bundle finds its packages by walking up, and linters skip it.
const compiledDir = fileURLToPath(new URL('../../node_modules/.cache/lanyard-bench/', import.meta.url));

/**
 * Bundles a bench server once per run (node_modules/.cache/lanyard-bench/<name>/<name>.mjs and its
 * chunks) the way `npm run build` bundles the `lanyard` command (packages/cli/build.mjs): the
 * repository's code and the same ES-module packages inlined, the rest loaded from node_modules.
 */
async function compiledServer(name: string): Promise<string> {
  const outdir = `${compiledDir}${name}/`;
  const outfile = `${outdir}${name}.mjs`;
  if (!existsSync(outfile) || !compiledThisRun.has(name)) {
    await bundleServer({ entryPoints: { [name]: serverPath(name) }, outdir });
    compiledThisRun.add(name);
  }
  return outfile;
}
const compiledThisRun = new Set<string>();

export async function startChild(name: string, options: ChildOptions = {}): Promise<Child> {
  const entry = options.compiled ? await compiledServer(name) : serverPath(name);
  const started = performance.now();
  const child = fork(entry, [], {
    execArgv: [...(options.compiled ? [] : ['--import', 'tsx']), '--expose-gc', ...(options.nodeFlags ?? [])],
    env: { ...process.env, NODE_ENV: 'production', ...options.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind the bench (it would start later and hold its port and CPU).
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 60 s`));
    }, 60_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    child.on('message', (message: { type?: string; id?: number; result?: unknown; error?: string }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message as Record<string, unknown>);
      } else if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(`${name}: ${message.error}`));
        else waiter?.resolve(message.result);
      }
    });
  });
  const startupMs = performance.now() - started;
  child.removeAllListeners('exit');
  const call = <T>(cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, ...args });
    });
  return {
    url: ready.url as string,
    ready,
    startupMs,
    process: child,
    call,
    async stop() {
      // Gone already: exited, or killed by a signal (a Ctrl-C reaches the children too).
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Asked over IPC while the channel is open, else (or if it does not answer) killed below.
      const asked = child.connected ? call('stop').catch(() => undefined) : Promise.resolve();
      await Promise.race([asked, exited, new Promise((r) => setTimeout(r, 10_000))]);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** How the children run their TypeScript, for the start-up line's note. */
export function loaderNote(compiled: boolean): string {
  return compiled
    ? 'both sides compiled to JavaScript (esbuild bundles as packages/cli/build.mjs makes them), no loader'
    : 'both sides run their TypeScript through the tsx loader';
}
