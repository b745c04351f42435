import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LanyardConfig } from '../../../packages/server/src/index.ts';

/**
 * The demo stack in a child process whose wall clock the test moves forward, in step with the
 * browser's `context.clock`: a whole shift (hours) passes in seconds for both sides. A separate
 * process, because faking `Date` in this one would also move Playwright's own clock bookkeeping.
 */
export interface ShiftedDemoStack {
  desktopUrl: string;
  legacyUrl: string;
  lanyardUrl: string;
  /** Moves the server's wall clock forward (do it before the browser's, so refreshes land in the new time). */
  advanceServerClock(ms: number): Promise<void>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./shifted-stack-child.ts', import.meta.url));

export async function startShiftedDemoStack(overrides: Partial<LanyardConfig> = {}): Promise<ShiftedDemoStack> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DEMO_STACK_OVERRIDES: JSON.stringify(overrides) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ desktopUrl: string; legacyUrl: string; lanyardUrl: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { desktopUrl: string; legacyUrl: string; lanyardUrl: string }));
    child.once('exit', (code) => reject(new Error(`the demo stack process exited (${code}) before it was ready`)));
  });
  let nextId = 1;
  const call = (command: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      const onMessage = (message: { id?: number }) => {
        if (message.id !== id) return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.send({ ...command, id });
    });
  return {
    ...ready,
    advanceServerClock: (ms) => call({ type: 'advance', ms }),
    close: async () => {
      if (child.exitCode !== null) return;
      await Promise.race([call({ type: 'close' }), new Promise((resolve) => setTimeout(resolve, 5000))]);
      child.kill();
    },
  };
}
