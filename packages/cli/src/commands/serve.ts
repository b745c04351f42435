import type { Command } from 'commander';
import type { Lanyard } from '@lanyard/server';
import { httpOrigin, loadConfig } from '@lanyard/server/config.ts';
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
      const config = loadConfig(env);
      const [{ SamlVerificationPool }, { jsonLogger }] = await Promise.all([
        import('@lanyard/server/connections/saml-verification-pool.ts'),
        import('@lanyard/server/http/logger.ts'),
      ]);
      const logger = jsonLogger(config.logLevel);
      // The SAML verification workers start first: each loads the XML signature modules on its own
      // thread while this one loads the server's, and the node is ready for a balancer (/readyz)
      // sooner (docs/benchmarks.md, twenty-fourth round). Their warnings wait for the listening
      // line, which comes first on stdout (scripts read it).
      const heldWarnings: string[] = [];
      let warn: (message: string) => void = (message) => heldWarnings.push(message);
      const sayHeldWarnings = () => {
        warn = (message) => logger.warn(message);
        for (const message of heldWarnings.splice(0)) logger.warn(message);
      };
      const samlVerification = new SamlVerificationPool({ threads: config.samlWorkers, onWarning: (message) => warn(message) });
      void samlVerification.start();
      let lanyard: Lanyard;
      try {
        const { startLanyard } = await import('@lanyard/server');
        lanyard = await startLanyard(config, { logger, samlVerification });
      } catch (error) {
        // The node did not start: stop its workers (piscina's idle workers would not hold the
        // process open, but one still loading its modules would run on for nothing).
        await samlVerification.close();
        sayHeldWarnings();
        throw error;
      }
      const json = command.optsWithGlobals().json === true;
      treatStdoutAsLogs();
      process.stdout.write(listeningLine(lanyard.url, lanyard.services.config, json));
      sayHeldWarnings();
      // Which database this server uses, and whether it just created it (a new deployment, or a
      // mistyped LANYARD_DATABASE_URL): on stderr, as every command says it.
      if (!json) process.stderr.write(databaseNote(env, lanyard.services.storage.createdNow === true));
      // First signal: drain (readyz 503, in-flight requests finish within LANYARD_SHUTDOWN_TIMEOUT,
      // then the database closes). A second signal stops at once.
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
