import type { Command } from 'commander';
import { httpOrigin } from '@lanyard/server/config.ts';
import { databaseNote } from '../database-note.ts';
import { treatStdoutAsLogs } from '../output.ts';

/** `lanyard serve`: the HTTP server, configured from LANYARD_* variables (flags override them). */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the Lanyard server (configured by LANYARD_* environment variables)')
    .option('--host <host>', 'interface to listen on (LANYARD_HOST)')
    .option('--port <port>', 'port to listen on, 0 for any free port (LANYARD_PORT)')
    .action(async (options: { host?: string; port?: string }, command: Command) => {
      const env = {
        ...process.env,
        ...(options.host ? { LANYARD_HOST: options.host } : {}),
        ...(options.port ? { LANYARD_PORT: options.port } : {}),
      };
      const { loadConfig, startLanyard } = await import('@lanyard/server');
      const lanyard = await startLanyard(loadConfig(env));
      // First signal: drain (readyz 503, in-flight requests finish within LANYARD_SHUTDOWN_TIMEOUT,
      // then the database closes). A second signal stops at once. Set before the listening line: a
      // supervisor that reads it and signals at once gets a drain, not the default signal action.
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(1);
        stopping = true;
        lanyard.services.logger.info('shutting down', { signal, in_flight: lanyard.services.lifecycle.inFlight });
        void lanyard.close().then(
          () => process.exit(0),
          (error: unknown) => {
            lanyard.services.logger.error('shutdown failed', { error: (error as Error).message });
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const json = command.optsWithGlobals().json === true;
      treatStdoutAsLogs();
      process.stdout.write(listeningLine(lanyard.url, lanyard.services.config, json));
      // Which database this server uses, and whether it just created it (a new deployment, or a
      // mistyped LANYARD_DATABASE_URL): on stderr, as every command says it.
      if (!json) process.stderr.write(databaseNote(env, lanyard.services.storage.createdNow === true));
    });
}

/**
 * What `serve` prints once it listens: where (the configured host and the bound port) and, when
 * it differs, the public URL that links and redirects use (LANYARD_PUBLIC_URL; behind a proxy, or
 * under a path the proxy strips, it is not where this process answers). `--json`:
 * `{ "url": public URL, "listening": the listening origin }`.
 */
export function listeningLine(publicUrl: string, { host, port }: { host: string; port: number }, json: boolean): string {
  const listening = httpOrigin(host, port);
  if (json) return `${JSON.stringify({ url: publicUrl, listening })}\n`;
  const url = new URL(publicUrl);
  // The server answers at its root: a public URL with a path is a proxy's mapping, not this address.
  const same = url.origin === new URL(listening).origin && url.pathname === '/';
  return same
    ? `Lanyard is listening on ${publicUrl} (Ctrl-C stops it)\n`
    : `Lanyard is listening on ${listening}, public URL ${publicUrl} (Ctrl-C stops it)\n`;
}
