import type { Command } from 'commander';
import { userInfo } from 'node:os';
import type { AdminService } from '@lanyard/server/admin/admin-service.ts';
import type { Services } from '@lanyard/server/services.ts';
import { NotFoundError } from '@lanyard/server/errors.ts';
import { databaseNote } from './database-note.ts';
import { cliLogger, emit, type Output } from './output.ts';

export interface CommandContext {
  services: Services;
  /** The same operations the admin API performs, recorded in the audit log as the CLI's. */
  admin: AdminService;
}

/** Positional arguments and options of one command invocation, as commander parsed them. */
export interface Invocation {
  args: string[];
  options: Record<string, unknown>;
}

export type Handler = (context: CommandContext, invocation: Invocation) => Promise<Output>;

/**
 * Opens the database through the server's own services (configured from the same LANYARD_*
 * variables), runs one command and closes it. No server needs to be running.
 */
export async function withServices<T>(work: (context: CommandContext) => Promise<T>): Promise<T> {
  // Loaded on demand: `--help` and usage errors need none of the server (nor a database driver).
  const [{ loadConfig }, { createServices }, { AdminService }] = await Promise.all([
    import('@lanyard/server/config.ts'),
    import('@lanyard/server/services.ts'),
    import('@lanyard/server/admin/admin-service.ts'),
  ]);
  const services = await createServices(loadConfig(process.env), { logger: cliLogger() });
  try {
    return await work({ services, admin: new AdminService(services, { surface: 'cli', name: `cli (${operator()})` }) });
  } finally {
    await services.storage.close();
  }
}

/** Adapts a handler to commander's `(…args, options, command)` action signature. */
export function action(handler: Handler): (...parsed: unknown[]) => Promise<void> {
  return async (...parsed) => {
    const command = parsed.at(-1) as Command;
    const args = parsed.slice(0, -2).filter((a): a is string => typeof a === 'string');
    const options = command.opts();
    const json = command.optsWithGlobals().json === true;
    let output: Output;
    let createdNow = false;
    try {
      output = await withServices((context) => {
        createdNow = context.services.storage.createdNow === true;
        return handler(context, { args, options });
      });
    } catch (error) {
      // "Not found" is most often the wrong database: say which one was read, as on success.
      if (!json && error instanceof NotFoundError) process.stderr.write(databaseNote(process.env, createdNow));
      throw error;
    }
    emit(output, json);
    // On stderr, so stdout stays the command's output; --json output stays exactly the API's shape.
    if (!json) process.stderr.write(databaseNote(process.env, createdNow));
  };
}

/** The operating-system user running the CLI: the audit log's name for who acted (`cli (name)`). */
export function operator(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}
