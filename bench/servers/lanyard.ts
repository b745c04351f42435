/**
 * Lanyard under test, in its own process (forked by bench/run.ts with an IPC channel). The
 * parent sends commands for the untimed set-up work (account, pre-created sessions) and for
 * memory readings; all timed traffic arrives over HTTP from the load generator.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { loadConfig, startLanyard } from '../../packages/server/src/index.ts';
import { pkcePair } from '../lib/pkce.ts';
import { exitWithParent } from '../lib/parent-link.ts';

// Registered before any start-up work: a bench that dies meanwhile leaves nothing running.
exitWithParent();

const env = process.env;
// Behind a shared public URL (the cluster burst) the bound port must be known to the balancer.
const port = env.BENCH_PUBLIC_URL ? await freePort() : 0;
const config = loadConfig(
  {
    LANYARD_PORT: String(port),
    ...(env.BENCH_PUBLIC_URL ? { LANYARD_PUBLIC_URL: env.BENCH_PUBLIC_URL } : {}),
    LANYARD_DATABASE_URL: env.BENCH_DATABASE_URL ?? '',
    LANYARD_SECRET_KEY: env.LANYARD_SECRET_KEY ?? randomBytes(32).toString('base64'),
    LANYARD_LOG_LEVEL: 'silent',
    LANYARD_METADATA_REFRESH_MINUTES: '0',
    // A line may compare SAML verification on worker threads with the main thread.
    ...(env.LANYARD_SAML_WORKERS ? { LANYARD_SAML_WORKERS: env.LANYARD_SAML_WORKERS } : {}),
  },
  // The throughput lines drive thousands of requests a second from 127.0.0.1 through 100 users
  // and 1,000 sessions: the limits would measure the limiter, not the work, so they are off
  // there (docs/benchmarks.md says so). The shift-change burst runs the default configuration.
  env.BENCH_DEFAULT_LIMITS === '1'
    ? {}
    : {
        rateLimitLoginPerMinute: 0,
        rateLimitTokenPerMinute: 0,
        rateLimitAdminPerMinute: 0,
        rateLimitAccountSignInsPerMinute: 0,
        rateLimitUserSignInsPerMinute: 0,
        rateLimitRefreshFamilyPerMinute: 0,
      },
);
const lanyard = await startLanyard(config, {
  logger: jsonLogger(env.BENCH_LOG_LEVEL === 'error' || env.BENCH_LOG_LEVEL === 'warn' ? env.BENCH_LOG_LEVEL : 'silent', (line) =>
    process.stderr.write(line + '\n'),
  ),
});
const { services } = lanyard;

type Command =
  | { id: number; cmd: 'setup'; metadataXml: string; trustedUrl: string }
  | { id: number; cmd: 'sessions'; accountSid: string; connectionSid: string; clientId: string; count: number; returnTokens: boolean }
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'samlVerified' }
  | { id: number; cmd: 'stop' };

process.on('message', (message: Command) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: Error) => process.send!({ id: message.id, error: error.stack ?? error.message }),
  );
});
process.send!({ type: 'ready', url: port ? `http://127.0.0.1:${port}` : lanyard.url });

async function handle(message: Command): Promise<unknown> {
  switch (message.cmd) {
    case 'setup': {
      const { account, authToken } = await services.accounts.createAccount('Bench contact center');
      const connection = await services.accounts.setSaml(account.sid, { metadataXml: message.metadataXml });
      await services.accounts.addTrustedUrl(account.sid, message.trustedUrl);
      await services.accounts.setDefaultRedirectUrl(account.sid, message.trustedUrl);
      return { accountSid: account.sid, authToken, connectionSid: connection.sid, clientId: connection.clientId };
    }
    case 'sessions':
      return createSessions(message);
    case 'memory':
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage();
    case 'samlVerified':
      // Where this process verified its SAML responses (a fallback to the main thread is silent at this log level).
      return { ...services.samlVerification.verified, threads: config.samlWorkers };
    case 'stop':
      await lanyard.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

/**
 * Live sessions made through the token core itself (code → exchange), without the SAML round
 * trip: set-up for the refresh and memory benches, never timed. 100 agents share them.
 */
async function createSessions(m: Extract<Command, { cmd: 'sessions' }>): Promise<string[] | number> {
  const users: Array<{ sid: string }> = [];
  for (let i = 0; i < Math.min(100, m.count); i++) {
    users.push(
      await services.users.provision(m.accountSid, {
        uniqueId: `agent${i}@bench.example`,
        fullName: `Agent ${i}`,
        email: `agent${i}@bench.example`,
        roles: ['agent'],
        imageUrl: null,
        attributes: {},
      }),
    );
  }
  const tokens: string[] = [];
  const batch = 16;
  for (let start = 0; start < m.count; start += batch) {
    const made = await Promise.all(
      Array.from({ length: Math.min(batch, m.count - start) }, async (_, j) => {
        const { verifier, challenge } = pkcePair();
        const code = await services.tokens.createCode({
          surface: 'flex',
          accountSid: m.accountSid,
          connectionSid: m.connectionSid,
          clientId: m.clientId,
          userSid: users[(start + j) % users.length]!.sid,
          redirectUrl: 'http://127.0.0.1:5173/desktop/',
          codeChallenge: challenge,
          nonce: null,
          scope: null,
          authTime: Date.now(),
        });
        const issued = await services.tokens.exchangeCode({ code, codeVerifier: verifier, surface: 'flex', connectionSid: m.connectionSid });
        return issued.refreshToken;
      }),
    );
    if (m.returnTokens) tokens.push(...made);
  }
  return m.returnTokens ? tokens : m.count;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
}
